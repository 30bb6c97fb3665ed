"""Delivering changes: the stacks a git change affects (affected.py), the IAM policy a service
stack's deploy role needs (deploy_policy/), and a new service end to end (scaffold.py). Imports
render/ only."""
