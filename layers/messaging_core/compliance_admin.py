"""Operator commands for compliance, run with the service's settings (never reachable by the API).

    python -m messaging_core.compliance_admin hold --conversation-id ID --reason WHY --operator WHO
    python -m messaging_core.compliance_admin lift --conversation-id ID --reason WHY --operator WHO
    python -m messaging_core.compliance_admin status --conversation-id ID
    python -m messaging_core.compliance_admin purge

Locally `make legal-hold` and `make purge`: with MONGODB_URI they act on the database directly;
without it they ask the running `make run` over its operator socket (operator_socket.py), since
the embedded store lives inside that process. In AWS the `operator` Lambda (functions/operator.py,
no route: `aws lambda invoke` by an IAM principal, docs/deploy.md) calls `execute` with the
database's credentials. Each hold change is an access record with its reason.
"""

import argparse
import asyncio
import logging
import sys
from typing import Any

from . import audit, operator_socket, retention
from .config import Settings, get_settings
from .container import build_core
from .core import Core
from .errors import DomainError, Invalid

logger = logging.getLogger("messaging.compliance")


async def execute(
    core: Core,
    command: str,
    conversation_id: str,
    reason: str,
    operator: str,
    request_id: str | None = None,
) -> str:
    """One operator command on `core`: the direct path, `make run`'s socket, the AWS Lambda."""
    # The Lambda passes its invocation's request id: the record then names that invocation.
    audit.bind("operator", request_id)
    if command in ("hold", "lift") and not operator.strip():
        raise Invalid("a legal hold change needs the operator's name (OPERATOR=...)")
    if command == "hold":
        conv = await retention.set_legal_hold(core, operator, conversation_id, reason)
        return f"legal hold set on conversation {conv}"
    if command == "lift":
        lifted = await retention.lift_legal_hold(core, operator, conversation_id, reason)
        return "legal hold lifted" if lifted else "the conversation was not held"
    if command == "status":  # a read of the hold only (no health data): not an access record
        held = await retention.is_held(core, conversation_id)
        return f"conversation {conversation_id} is {'under legal hold' if held else 'not held'}"
    if command != "purge":
        raise Invalid("command must be hold, lift, status or purge")
    report = await retention.purge_once(core)
    return (
        f"purge: {report.expired} expired messages erased, {report.content_erased} deleted "
        f"messages' content erased, {report.files} files erased"
    )


async def _run(settings: Settings, args: argparse.Namespace) -> str:
    core = await build_core(settings)
    try:
        return await execute(
            core,
            args.command,
            getattr(args, "conversation_id", ""),
            getattr(args, "reason", ""),
            getattr(args, "operator", ""),
        )
    finally:
        await core.drain()
        await core.store.close()


def start_operator_socket(core: Core, path: str) -> "asyncio.Task[None]":
    """`make run`: serve `make legal-hold`/`make purge` on the process's own store."""

    async def run(request: dict[str, Any]) -> str:
        return await execute(
            core,
            str(request.get("command", "")),
            str(request.get("conversationId", "")),
            str(request.get("reason", "")),
            str(request.get("operator", "")),
        )

    async def serve() -> None:
        try:
            await operator_socket.serve(path, run)
        except (OSError, RuntimeError) as exc:  # the service runs on; say why holds cannot
            logger.warning(
                "operator socket not served: %s", exc, extra={"error": type(exc).__name__}
            )

    return asyncio.get_running_loop().create_task(serve(), name="operator-socket")


def main_via_socket(path: str, args: argparse.Namespace) -> int:
    """The same command, run by the `make run` process that holds the store."""
    request = {
        "command": args.command,
        "conversationId": getattr(args, "conversation_id", ""),
        "reason": getattr(args, "reason", ""),
        "operator": getattr(args, "operator", ""),
    }
    try:
        key = operator_socket.read_key(path)
        reply = asyncio.run(operator_socket.call(path, key, request))
    except (FileNotFoundError, ConnectionRefusedError):
        print(
            "no `make run` answers on its operator socket (LOCAL_ADMIN_SOCKET): start `make run` "
            "first, in this folder",
            file=sys.stderr,
        )
        return 2
    print(reply.get("message", ""), file=sys.stdout if reply.get("ok") else sys.stderr)
    return 0 if reply.get("ok") is True else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, what in (("hold", "hold a conversation"), ("lift", "lift a hold")):
        cmd = sub.add_parser(name, help=what)
        cmd.add_argument("--conversation-id", required=True)
        cmd.add_argument("--reason", required=True, help="kept in the audit trail")
        cmd.add_argument("--operator", required=True, help="who asks (kept in the audit trail)")
    status = sub.add_parser("status", help="is a conversation held")
    status.add_argument("--conversation-id", required=True)
    sub.add_parser("purge", help="run the purge once now")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    settings = get_settings()
    if not (settings.mongodb_uri or settings.mongodb_uri_secret_arn):
        if settings.local_admin_socket:
            # `make run`'s embedded store lives inside the server's process: ask that process.
            return main_via_socket(settings.local_admin_socket, args)
        print(
            "MONGODB_URI is not set: holds and purges act on the database the service uses "
            "(run the service with MONGODB_URI, or use `make legal-hold`/`make purge` next to "
            "a running `make run`)",
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
