"""The one mapping from core errors to HTTP: `{"message": ...}` with the original's status codes."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from messaging_core import errors
from messaging_core.inputs import describe_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("messaging.http")

STATUS: dict[type[errors.DomainError], int] = {
    errors.Invalid: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}


def _reply(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"message": message}, status_code=status, headers=headers)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    return reply_for(exc)


def reply_for(exc: errors.DomainError) -> JSONResponse:
    """The reply to a core error, for a middleware (outside the exception handlers' reach)."""
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
    return _reply(status, exc.message)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return _reply(400, "Request body must be valid JSON")
    return _reply(400, describe_errors(exc.errors()))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return _reply(exc.status_code, message)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # Type only: an exception's text may carry user data.
    logger.error("unhandled error", extra={"error": type(exc).__name__})
    return _reply(500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
