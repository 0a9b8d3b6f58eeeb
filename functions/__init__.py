"""Lambda functions: one module per function, each a FastAPI router plus its Mangum handler."""
