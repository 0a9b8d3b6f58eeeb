"""`make run`: REST on one port with embedded defaults (the socket tier mounts here too)."""

import logging

import uvicorn

from messaging_core.config import get_settings


def main() -> None:
    from functions.local_app import create_local_app

    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    print(  # noqa: T201 - the one line a newcomer needs
        f"Messaging service ready on http://localhost:{settings.port} "
        "(API docs at /docs; mint a token with `make token ROLE=doctor`)",
        flush=True,
    )
    uvicorn.run(create_local_app(), host="127.0.0.1", port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
