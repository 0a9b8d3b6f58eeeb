"""The development server: every REST router in one app on one port (`make run`), plus the demo
chat page (`web/`) at `/`."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from messaging_core.config import get_settings

from . import attachments, conversations, dev, messages, presence
from .api.app import create_app

ROUTERS = (conversations.router, messages.router, attachments.router, presence.router)
WEB_DIR = Path(__file__).resolve().parents[1] / "web"


def create_local_app() -> FastAPI:
    routers = ROUTERS
    # The development sign-in exists only in development: elsewhere the path is plainly unknown.
    if get_settings().environment == "development":
        routers = (*routers, dev.router)
    app = create_app(*routers)
    if WEB_DIR.is_dir():
        # Mounted last: the API's routes match first, the page gets whatever is left.
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app
