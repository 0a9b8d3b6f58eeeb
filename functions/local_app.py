"""The development server: every REST router in one app on one port (`make run`)."""

from fastapi import FastAPI

from . import attachments, conversations, messages, presence
from .api.app import create_app

ROUTERS = (conversations.router, messages.router, attachments.router, presence.router)


def create_local_app() -> FastAPI:
    return create_app(*ROUTERS)
