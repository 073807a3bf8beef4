"""A contact center that speaks the Bot Framework hand-off protocol (HANDOFF_DESK=protocol).

The bot sends the event `handoff.initiate` on the customer's own conversation: `value`
carries what the bot knows, an attachment named "Transcript" the recent messages as
Bot Framework activities. The contact center (Dynamics 365 Contact Center, Copilot
Studio's hand-off) takes the conversation from there and answers with `handoff.status`
events (accepted, failed, completed), which the bot reads in bots/agent_desk.py.
"""

from __future__ import annotations

from channels.reference import ConversationRef
from handoff.cases import Case, TranscriptLine
from handoff.desk import Json, Outbound

INITIATE = "handoff.initiate"
STATUS = "handoff.status"


class ProtocolDesk:
    name = "protocol"

    def __init__(self, outbound: Outbound) -> None:
        self._outbound = outbound

    async def ready(self) -> bool:
        return True  # the contact center answers `failed` when nobody is there

    def answers_on(self, case: Case) -> ConversationRef:
        # The contact center answers on the customer's own conversation, possibly before
        # the event that asks it has been acknowledged.
        return case.customer

    async def open_case(self, case: Case, position: int) -> Case:
        await self._outbound.send(case.customer, initiate_event(case))
        return case

    async def case_changed(self, case: Case) -> None:
        return None  # the contact center keeps its own view of the conversation

    async def customer_said(self, case: Case, text: str) -> None:
        return None  # the customer's messages reach the contact center through the channel

    async def customer_typing(self, case: Case) -> None:
        return None

    async def remind(self, case: Case, waited_minutes: int) -> None:
        return None  # the contact center routes and escalates its own queue


def initiate_event(case: Case) -> Json:
    customer = case.customer
    return {
        "type": "event",
        "name": INITIATE,
        "value": {
            "caseId": case.id,
            "customerId": case.customer_id,
            "customerName": case.customer_name,
            "reason": case.reason.value,
            "channel": customer.channel_id,
            "locale": customer.locale,
            "requestedAt": case.requested_at.isoformat(),
            "facts": [{"name": name, "value": value} for name, value in case.facts],
        },
        "attachments": [{
            "contentType": "application/json",
            "name": "Transcript",
            "content": {"activities": [_activity(case, line) for line in case.transcript]},
        }],
    }  # fmt: skip


def _activity(case: Case, line: TranscriptLine) -> Json:
    customer = case.customer
    user = {"id": customer.user_id, "name": customer.user_name, "role": "user"}
    bot = {"id": customer.bot_id, "name": customer.bot_name, "role": "bot"}
    sender, recipient = (user, bot) if line.sender == "customer" else (bot, user)
    return {
        "type": "message",
        "channelId": customer.channel_id,
        "conversation": {"id": customer.conversation_id},
        "from": sender,
        "recipient": recipient,
        "text": line.text,
        "timestamp": line.at.isoformat(),
    }
