"""Stacks: stateful data apart from stateless compute."""
