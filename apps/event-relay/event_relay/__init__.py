"""Placeholder: the relay's code is written in the applications half of issue 22."""
