"""A customer asks for a person: acknowledged and recorded in their context.

The hand-off to an agent desk itself is a later step; the record is what it will read.
"""

from __future__ import annotations

from botbuilder.core import TurnContext

from channels.replies import PERSON_REQUESTED
from dialogs.clock import Clock
from dialogs.reply_activity import send_reply
from state.customer_context import CustomerContextAccessor


async def request_person(
    turn_context: TurnContext, customer_contexts: CustomerContextAccessor, clock: Clock
) -> None:
    requested_at = clock()
    await customer_contexts.update(turn_context, lambda c: c.request_handoff(requested_at))
    await send_reply(turn_context, PERSON_REQUESTED)
