"""Shared core of the E-Santé messaging service: rules, ports and adapters used by both tiers."""
