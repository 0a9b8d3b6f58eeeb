"""Adapters for the core's ports that need no server: used by `make run` and by unit tests."""
