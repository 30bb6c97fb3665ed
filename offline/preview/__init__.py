"""What `pulumi preview` would create: the text report (report.py), the stable JSON document
(document.py, preview.schema.json) and the architecture graph (graph.py); command.py holds the
`preview` and `graph` commands. Imports render/ and estimates/."""
