"""App factory and Lambda entry: the same routers serve Lambda (through Mangum) and `make run`."""

import asyncio
import uuid
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from mangum import Mangum
from messaging_core import audit, sent_metrics
from messaging_core.config import get_settings
from messaging_core.errors import DomainError
from messaging_core.logs import quiet_payload_loggers
from messaging_core.names import METRICS_NAMESPACE, ORIGIN_VERIFY_HEADER, SERVICE_NAME
from messaging_core.origin import check_origin, origin_check_enabled
from pydantic.warnings import UnsupportedFieldAttributeWarning
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from . import snapstart
from .deps import core_dependency
from .errors import install_error_handlers, reply_for
from .openapi import document_errors, serve_api_pages

# FastAPI builds each parameter's validator inside a filter for this pydantic warning (its
# Annotated[..., Field(alias=...)] re-wrap is deliberate); our models' defer_build (cold
# start, #19) moves that build to first use, outside FastAPI's filter: the same filter here,
# for this one category, so no request logs it.
warnings.filterwarnings("ignore", category=UnsupportedFieldAttributeWarning)

SERVICE = SERVICE_NAME
logger = Logger(service=SERVICE)
quiet_payload_loggers()  # LOG_LEVEL=DEBUG raises our lines only, never the drivers' payloads
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


def create_app(*routers: APIRouter, title: str = "E-Santé Messaging API") -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title=title,
        version="1.0.0",
        description="Patient-doctor and doctor-doctor messaging (REST; realtime on Socket.IO).",
        # Our own /docs and /redoc below: FastAPI's load their assets from a public CDN.
        docs_url=None,
        redoc_url=None,
    )
    for router in routers:
        app.include_router(router)
    document_errors(app)
    if settings.environment != "production":
        serve_api_pages(app)
    install_error_handlers(app)
    # CloudFront as the only way in (#11): checked before any route reads a body.
    app.add_middleware(RequireEdge)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.frontend_origins,
        allow_credentials=False,  # bearer tokens need no cookies
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
    )

    @app.middleware("http")
    async def correlation_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # One id per request in every log line; API Gateway's request id when behind it.
        event = request.scope.get("aws.event") or {}
        request_id = (
            (event.get("requestContext") or {}).get("requestId")
            or request.headers.get("x-request-id")
            or uuid.uuid4().hex
        )
        logger.set_correlation_id(request_id)
        audit.bind("rest", request_id)  # every access record of this request carries both
        response = await call_next(request)
        response.headers["X-Request-Id"] = request_id
        return response

    return app


class RequireEdge:
    """Refuse a request that did not come through CloudFront, when the check is configured.

    Plain ASGI (no BaseHTTPMiddleware): one header look-up per request, and the body untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # The Core's settings: the ones every route of this process uses (tests install it).
            settings = (await core_dependency()).settings
            if origin_check_enabled(settings):
                presented = Headers(scope=scope).get(ORIGIN_VERIFY_HEADER)
                try:
                    check_origin(settings, presented)
                except DomainError as exc:
                    await reply_for(exc)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def lambda_handler(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap an app for API Gateway (HTTP API v2 and REST v1 events alike)."""
    asgi = Mangum(app, lifespan="off")
    loop: list[asyncio.AbstractEventLoop] = []
    snapstart.register(loop, app)  # issue #19: SnapStart's before-snapshot and after-restore hooks

    @metrics.log_metrics
    # log_event=False wins over POWERTOOLS_LOGGER_LOG_EVENT: an event holds the token and body.
    @logger.inject_lambda_context(clear_state=True, log_event=False)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # One loop for the life of the process (the Mongo client and the Core are bound to it),
        # set explicitly: Python 3.14's get_event_loop() no longer creates one, and Mangum asks.
        if not loop or loop[0].is_closed():
            loop[:] = [asyncio.new_event_loop()]
        asyncio.set_event_loop(loop[0])
        try:
            return asgi(event, context)
        finally:
            sent_metrics.flush()  # messages sent per type and tier (#17), as EMF

    return handler
