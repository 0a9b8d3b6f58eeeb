"""The framework (FastAPI, Mangum, Powertools) with one route and its reply model, no core.

A reference for issue #19's cold-start table: FastAPI imports pydantic.v1 and builds validators
once an app has a route, so every REST function pays this much over bench/framework_only.py.
"""

from typing import TypedDict

from aws_lambda_powertools import Logger, Metrics  # noqa: F401
from fastapi import FastAPI
from mangum import Mangum


class Reply(TypedDict):
    message: str


app = FastAPI()


@app.get("/health", response_model=Reply)
async def health() -> dict[str, str]:
    """A liveness answer."""
    return {"message": "ok"}


handler = Mangum(app, lifespan="off")
