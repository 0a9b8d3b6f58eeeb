"""The framework alone (FastAPI, Mangum, Powertools), no core: what every REST function pays."""

from aws_lambda_powertools import Logger, Metrics  # noqa: F401
from fastapi import FastAPI
from mangum import Mangum

handler = Mangum(FastAPI(), lifespan="off")
