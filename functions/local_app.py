"""The development server: every REST router in one app on one port (`make run`), plus the demo
chat page (`web/`) at `/`."""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from messaging_core.config import get_settings
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from . import (
    attachments,
    care_teams,
    compliance,
    conversations,
    dev,
    doctor_tools,
    forwarding,
    message_actions,
    messages,
    presence,
    scheduled,
)
from .api.app import create_app

ROUTERS = (
    conversations.router,
    messages.router,
    compliance.router,
    attachments.router,
    presence.router,
    message_actions.router,  # issue #16 part A
    scheduled.router,  # issue #16 B: scheduled messages
    forwarding.router,  # issue #16 B: forwarding (the attachments Lambda in AWS)
    care_teams.router,  # care-team membership (#18)
    doctor_tools.router,  # doctors' tools (#17)
)
WEB_DIR = Path(__file__).resolve().parents[1] / "web"


class PageFiles(StaticFiles):
    """The page's files for GET and HEAD; any other method on an unknown path stays a 404, as it
    was before the page existed (StaticFiles alone would answer 405)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def create_local_app() -> FastAPI:
    routers: tuple[APIRouter, ...] = ROUTERS
    # The development sign-in exists only in development: elsewhere the path is plainly unknown.
    if get_settings().environment == "development":
        routers = (*routers, dev.router)
    app = create_app(*routers)
    if WEB_DIR.is_dir():
        # Mounted last: the API's routes match first, the page gets whatever is left.
        app.mount("/", PageFiles(directory=WEB_DIR, html=True), name="web")
    return app
