"""Forwarding (issue #16 B): a message copied into another conversation of the caller's.

The copy goes through the one send path (`messages.store_message`: budget, receipts, events,
push) and carries `forwardedFrom` (ids and time of the source, never its sender's name). A file
message gets its own copy of the file under the target conversation, so deleting either message
(which tags its file `deleted`) never touches the other's.
"""

from . import audit
from .access import conversation_for
from .attachments import CONFIRMED, CONFIRMED_PREFIX, new_key
from .budgets import spend
from .core import Core
from .errors import Invalid, NotFound, Unavailable
from .filetypes import file_type
from .ids import parse_id
from .messages import Sent, store_message
from .models import Attachment, ForwardedFrom, Message, Principal

FORWARD_READ = "message.forward"  # the audit action: the source message was read to copy it
FORWARDABLE = ("text", "image", "document")


async def forward_message(
    core: Core, user: Principal, message_id: object, conversation_id: object
) -> Sent:
    """Copy a message the caller can see into another conversation the caller is in."""
    mid = parse_id(message_id, "messageId")
    target_id = parse_id(conversation_id, "conversationId")
    source = await core.store.get_message(mid)
    if source is None:
        raise NotFound("Message not found")
    # Both memberships through the one participant rule (care teams get them for free).
    await conversation_for(core, user, source.conversation_id)
    target = await conversation_for(core, user, target_id)
    if source.is_deleted:
        raise Invalid("A deleted message cannot be forwarded")
    if source.message_type not in FORWARDABLE:
        raise Invalid("Only text, image and document messages can be forwarded")
    # The send budget before any copy is made (store_message is told it was spent).
    await spend(core, user, "send")
    attachment = None
    if source.attachment is not None:
        await spend(core, user, "send_file")  # a file costs what sending a file costs
        attachment = await _copy_file(core, source, target.id)
    await audit.record(core, user.id, user.role, FORWARD_READ, source.conversation_id, [mid])
    sent = await store_message(
        core,
        user,
        target,
        receiver_id=None,
        message_type=source.message_type,
        content=source.content,
        attachment=attachment,
        forwarded_from=ForwardedFrom(
            source.id, source.conversation_id, source.sender_id, source.created_at
        ),
        budget=False,
    )
    if attachment is not None and core.files is not None:
        await core.files.set_state(attachment.s3_key, CONFIRMED)
    return sent


async def _copy_file(core: Core, source: Message, target_conversation: str) -> Attachment:
    """A server-side copy under the target's confirmed prefix: the copy is the message's own."""
    assert source.attachment is not None
    if core.files is None:
        raise Unavailable("File storage is not configured")
    kind = file_type(source.attachment.mime_type)
    if kind is None:  # only whitelisted types are ever stored; fail closed on anything else
        raise Invalid("This file cannot be forwarded")
    key = new_key(target_conversation, kind, CONFIRMED_PREFIX)
    try:
        await core.files.copy(source.attachment.s3_key, key)
    except NotFound:
        raise NotFound("The file of this message is no longer available") from None
    a = source.attachment
    return Attachment(a.file_name, a.file_size, a.mime_type, key)
