"""The API page: the error replies each route documents, and Swagger UI / ReDoc served offline."""

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict

# Where the pages' own scripts and styles are served (from the pinned `fastapi-offline` wheel).
ASSETS_URL = "/docs-assets"


class ErrorReply(BaseModel):
    """Every error the API answers: one human-readable sentence, never user data."""

    model_config = ConfigDict(title="ErrorReply")
    message: str


_WHY: dict[int, str] = {
    400: "Bad input: a malformed id, a missing or invalid field, a value out of range",
    401: "Missing, malformed, expired or forged token",
    403: "Not a participant, patient to patient, not the sender, or not a partner",
    404: "Unknown conversation, message or upload",
    409: "This upload has already been sent",
    413: "File too large for the multipart form (use the presigned upload)",
    429: "Over the sending budget (RATE_LIMIT_MESSAGES per RATE_LIMIT_WINDOW_SECONDS)",
    500: "Unexpected error (details stay in the server's logs)",
    503: "A backing service (database, storage, Redis) is unreachable: retry later",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: _error_reply(_WHY[code]) for code in (*codes, 500)}


# Cold start (#19): `{"model": ErrorReply}` makes FastAPI build one validator per status code per
# route at import (~0.6 ms each, ~6 per route), used for nothing but this document. The same
# reference, written out, costs nothing; document_errors adds the ErrorReply schema it names.
ERROR_REPLY_REF = {"$ref": "#/components/schemas/ErrorReply"}


def _error_reply(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": dict(ERROR_REPLY_REF)}},
    }


def _action_errors() -> dict[int | str, dict[str, Any]]:
    """Edits and reactions (issue #16): their 409 is a lost race, not an upload."""
    race = "The message changed meanwhile (another edit or reaction won): retry"
    return {
        **_errors(400, 401, 403, 404, 409, 429, 503),
        409: _error_reply(race),
    }


# The one table of documented errors, by route (function name). Keep it in step with the core:
# tests/unit/test_api_docs.py pins it, tests/unit/test_rest_contract.py proves the codes.
RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "create_conversation": _errors(400, 401, 403, 503),
    "list_conversations": _errors(400, 401, 503),
    "get_messages": _errors(400, 401, 403, 404, 503),
    "send_message": _errors(400, 401, 403, 404, 429, 503),
    "mark_read": _errors(400, 401, 403, 404, 503),
    "unread_count": _errors(401, 503),
    "search_messages": _errors(400, 401, 403, 404, 503),
    "delete_message": _errors(400, 401, 403, 404, 503),
    "request_upload": _errors(400, 401, 403, 404, 503),
    "send_file": _errors(400, 401, 403, 404, 409, 413, 429, 503),
    "online_status": _errors(400, 401, 403, 503),
    "health": _errors(),
    "access_log": _errors(400, 401, 403, 404, 429, 503),
    "export_conversation": _errors(400, 401, 403, 404, 429, 503),
    # -- issue #16 part A
    "edit_message": _action_errors(),
    "message_versions": _errors(400, 401, 403, 404, 429, 503),
    "add_reaction": _action_errors(),
    "remove_reaction": _action_errors(),
    # Care teams (#18)
    "add_participant": _errors(400, 401, 403, 404, 429, 503),
    "remove_participant": _errors(400, 401, 403, 404, 429, 503),
    # Doctors' tools (#17): templates and analytics (403 for patients).
    "list_templates": _errors(401, 403, 429, 503),
    "create_template": _errors(400, 401, 403, 429, 503),
    "update_template": _errors(400, 401, 403, 404, 429, 503),
    "delete_template": _errors(400, 401, 403, 404, 429, 503),
    "analytics": _errors(400, 401, 403, 429, 503),
}

# --- Forwarding and scheduled messages (issue #16 B)
from .schemas import ScheduledReply  # noqa: E402  (the block stays in one place for the merge)

_WHY_409_SCHEDULED = "The scheduled message is being sent or was sent already"
# POST .../messages with `scheduledAt`: 202 and another reply (the 201 path is unchanged).
RESPONSES["send_message"] = {
    **RESPONSES["send_message"],
    202: {"model": ScheduledReply, "description": "Scheduled (with `scheduledAt`): not sent yet"},
}
RESPONSES["forward_message"] = _errors(400, 401, 403, 404, 429, 503)
RESPONSES["list_scheduled"] = _errors(400, 401, 429, 503)
RESPONSES["cancel_scheduled"] = {
    **_errors(400, 401, 403, 404, 429, 503),
    409: _error_reply(_WHY_409_SCHEDULED),
}


def _without_validation_errors(schema: dict[str, Any]) -> dict[str, Any]:
    # Invalid input is answered 400 {"message"} (errors.py), so FastAPI's generated 422 and its
    # HTTPValidationError schema would document a reply the service never sends.
    for item in schema.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                op.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def _with_error_reply(schema: dict[str, Any]) -> dict[str, Any]:
    # The schema the routes' error replies refer to (see ERROR_REPLY_REF), in FastAPI's order.
    components = schema.setdefault("components", {})
    schemas = components.get("schemas", {})
    schemas["ErrorReply"] = ErrorReply.model_json_schema(mode="serialization")
    components["schemas"] = {name: schemas[name] for name in sorted(schemas)}
    return schema


def document_errors(app: FastAPI) -> None:
    """Make the app's OpenAPI document state the real error replies."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_error_reply(_without_validation_errors(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _assets_dir() -> Path:
    # The wheel's files only; importing its module is not needed (nor wanted on a cold start).
    import importlib.util

    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed (requirements/lambda.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def serve_api_pages(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc, with no asset from outside the service."""
    app.mount(ASSETS_URL, StaticFiles(directory=_assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"

    def base(request: Request) -> str:
        # Behind API Gateway the stage is the root path (`/prod/docs`).
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI, from the service's own assets."""
        root = base(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + redirect_url,
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # Swagger UI's default validator badge is an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        """Swagger UI's OAuth2 redirect page."""
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        """ReDoc, from the service's own assets (no web fonts)."""
        root = base(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
