"""Operator commands for compliance, run with the service's settings (never reachable by the API).

    python -m messaging_core.compliance_admin hold --conversation-id ID --reason WHY --operator WHO
    python -m messaging_core.compliance_admin lift --conversation-id ID --reason WHY --operator WHO
    python -m messaging_core.compliance_admin purge

Locally `make legal-hold` and `make purge`; in AWS the same module runs from an admin task with
the database's credentials (docs/deploy.md). Each hold change is an access record with its reason.
"""

import argparse
import asyncio
import logging
import sys

from . import audit, retention
from .config import Settings, get_settings
from .container import build_core
from .errors import DomainError

logger = logging.getLogger("messaging.compliance")


async def _run(settings: Settings, args: argparse.Namespace) -> str:
    core = await build_core(settings)
    audit.bind("operator")
    try:
        if args.command == "hold":
            conv = await retention.set_legal_hold(
                core, args.operator, args.conversation_id, args.reason
            )
            return f"legal hold set on conversation {conv}"
        if args.command == "lift":
            lifted = await retention.lift_legal_hold(
                core, args.operator, args.conversation_id, args.reason
            )
            return "legal hold lifted" if lifted else "the conversation was not held"
        report = await retention.purge_once(core)
        return (
            f"purge: {report.expired} expired messages erased, {report.content_erased} deleted "
            f"messages' content erased, {report.files} files erased"
        )
    finally:
        await core.drain()
        await core.store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, what in (("hold", "hold a conversation"), ("lift", "lift a hold")):
        cmd = sub.add_parser(name, help=what)
        cmd.add_argument("--conversation-id", required=True)
        cmd.add_argument("--reason", required=True, help="kept in the audit trail")
        cmd.add_argument("--operator", required=True, help="who asks (kept in the audit trail)")
    sub.add_parser("purge", help="run the purge once now")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    settings = get_settings()
    if not (settings.mongodb_uri or settings.mongodb_uri_secret_arn):
        # The embedded store lives inside the server's process: nothing here could reach it.
        print(
            "MONGODB_URI is not set: holds and purges act on the database the service uses "
            "(run the service with MONGODB_URI to try this locally)",
            file=sys.stderr,
        )
        return 2
    try:
        print(asyncio.run(_run(settings, args)))
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
