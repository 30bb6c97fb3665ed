"""Estimates of a rendering: its monthly cost (cost/) and how long its releases, rollbacks and
scale-outs take (rollout.py); command.py holds the `cost` command. Imports render/ only."""
