"""CDK app of the messaging service: constructs per tier, composed into stacks."""
