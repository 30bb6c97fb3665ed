"""Rendering: the Pulumi program run under the SDK's mocks (harness.py), the stack files it reads
(stackfile.py), and an environment's stacks however it is split (environments.py). It imports
nothing else from offline/: every other job builds on it."""
