"""What every REST function shares: dependencies, error mapping, app factory, Lambda entry."""

from . import fastapi_compat

# Before any route is declared (every route module imports from this package first): FastAPI's
# pydantic.v1 checks without importing pydantic.v1 (cold start, #19; see fastapi_compat.py).
fastapi_compat.apply()
