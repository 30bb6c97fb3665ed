"""Reusable ComponentResources. None of them reads stack config: everything comes in as args."""
