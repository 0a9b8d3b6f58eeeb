"""Lambda `operator` (issue #15): legal holds and a manual purge in AWS, for operators only.

No API route reaches it: only an IAM principal allowed `lambda:InvokeFunction` on it runs it
(`aws lambda invoke`, docs/deploy.md). The event is

    {"action": "hold" | "release" | "status" | "purge",
     "conversationId": "<24 hex>", "reason": "...", "operator": "<who asks>"}

and the reply `{"ok", "action", "message", "requestId"}`, or `{"ok": false, "message",
"requestId"}` for a refused event, which changes nothing. The rules are the local commands'
(`messaging_core.compliance_admin.execute`): each hold change is an access record with the
operator's name and the reason. The log line holds the action, the outcome and ids, never the
reason (it may describe a patient's case).
"""

import asyncio
from typing import Any

from aws_lambda_powertools import Logger
from messaging_core import compliance_admin
from messaging_core.container import get_core
from messaging_core.errors import DomainError, Invalid
from messaging_core.logs import quiet_payload_loggers
from messaging_core.names import SERVICE_NAME

logger = Logger(service=SERVICE_NAME)
quiet_payload_loggers()
# One loop for the process: the Core's clients stay bound to it between warm invocations.
_loop = asyncio.new_event_loop()

# The event's actions, and the command of compliance_admin each one is.
COMMANDS = {"hold": "hold", "release": "lift", "status": "status", "purge": "purge"}
FIELDS = ("action", "conversationId", "reason", "operator")
MAX_OPERATOR = 200  # a name or an address; it is stored in every record of the change


def parse(event: Any) -> tuple[str, str, str, str]:
    """(action, conversationId, reason, operator) of a well-formed event; Invalid otherwise."""
    if not isinstance(event, dict):
        raise Invalid(
            'the event must be a JSON object: {"action", "conversationId", "reason", "operator"}'
        )
    unknown = sorted(str(k)[:40] for k in event if k not in FIELDS)[:5]
    if unknown:  # a misspelt field must not turn into a silently missing one
        raise Invalid(f"unknown field(s) {unknown}: the event has only {list(FIELDS)}")
    for field in FIELDS:
        if not isinstance(event.get(field, ""), str):
            raise Invalid(f"{field} must be a string")
    action, conv, reason, operator = (str(event.get(field, "")) for field in FIELDS)
    if action not in COMMANDS:
        raise Invalid("action must be hold, release, status or purge")
    # Every action names who runs it (the log line; the audit record of a hold change).
    name = operator.strip()
    if not name or len(name) > MAX_OPERATOR or not name.isprintable():
        raise Invalid(f"operator must name who asks (1 to {MAX_OPERATOR} printable characters)")
    if action == "purge" and (conv or reason):
        raise Invalid("purge runs on every conversation: give no conversationId nor reason")
    if action != "purge" and not conv:
        raise Invalid(f"{action} needs a conversationId")
    return action, conv, reason, name


async def _run(event: Any, request_id: str) -> dict[str, Any]:
    try:
        action, conv, reason, operator = parse(event)
        core = await get_core()
        message = await compliance_admin.execute(
            core, COMMANDS[action], conv, reason, operator, request_id
        )
    except DomainError as exc:  # refused before any change (compliance_admin checks first)
        logger.info("operator command refused", extra={"error": type(exc).__name__})
        return {"ok": False, "message": exc.message, "requestId": request_id}
    # The hold change's access record goes out on Kafka before the reply says it is done.
    await core.drain()
    logger.info(
        "operator command",
        extra={"action": action, "conversationId": conv, "operator": operator},
    )
    return {"ok": True, "action": action, "message": message, "requestId": request_id}


@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one operator command (no route: `aws lambda invoke` only)."""
    return _loop.run_until_complete(_run(event, str(context.aws_request_id)))
