"""Operator commands, run with the service's own settings (never reachable through the API).

`python -m socket_tier.admin revoke --user-id <id> [--reason ...] [--jti ...]`: every token of the
user issued before now is refused (or one token by its `jti`), by REST at once and by the socket
tier within its sweep interval. Locally `make revoke`; in AWS see docs/deploy.md.
"""

import argparse
import asyncio
import logging
import sys

from messaging_core.config import Settings, get_settings
from messaging_core.ids import is_object_id
from messaging_core.ports import RevocationStore
from messaging_core.revocation import revoke_user

logger = logging.getLogger("messaging.admin")


async def _revoke(settings: Settings, user_id: str, jti: str | None) -> float:
    from messaging_core.adapters.redis_client import build_redis, redis_password
    from messaging_core.adapters.redis_revocation import RedisRevocations

    assert settings.redis_url  # checked by main()
    redis = build_redis(settings.redis_url, 2, redis_password(settings))
    try:
        store: RevocationStore = RedisRevocations(redis)
        keep = settings.jwt_max_lifetime_seconds + 60  # past it every matching token expired
        if jti:
            await store.deny_token(jti, keep)
        return await revoke_user(store, user_id, keep) if not jti else 0.0
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    revoke = sub.add_parser("revoke", help="end a user's sessions (or one token) now")
    revoke.add_argument("--user-id", required=True)
    revoke.add_argument("--reason", default="", help="kept in the operator's log line")
    revoke.add_argument("--jti", default="", help="deny only this token id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    settings = get_settings()
    user_id = args.user_id.strip().lower()
    if not is_object_id(user_id):
        print("USER_ID must be a 24-hex user id", file=sys.stderr)
        return 2
    if not settings.redis_url:
        # Without Redis each process keeps its own marks: nothing here could reach them.
        print(
            "REDIS_URL is not set: revocation marks live in the Redis the service uses "
            "(run the service with REDIS_URL to try this locally)",
            file=sys.stderr,
        )
        return 2
    asyncio.run(_revoke(settings, user_id, args.jti.strip() or None))
    what = "one token" if args.jti.strip() else "every session"
    logger.info("revoked %s of user %s (reason: %s)", what, user_id, args.reason[:200] or "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
