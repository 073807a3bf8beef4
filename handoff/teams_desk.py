"""Teams as the agent desk: each case is a card in the agents' channel, and its thread is
where the agent talks to the customer.

The channel is the one an agent named with `/desk here` (kept in the store, so every
instance posts there). The card shows who is waiting, why, what the bot knows and the
recent messages, with "Take it"; once taken it shows who has it, with "End".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from channels.reference import ConversationRef
from handoff.cases import Case, CaseState, Reason
from handoff.desk import DeskUnavailable, Json, Outbound
from state.documents import DocumentStore, DocumentWrite

DESK_KEY = "handoff/teams-desk"
TAKE, END = "take", "end"
# The field a card's buttons carry, so the bot knows a click from a typed message.
ACTION_FIELD = "handoffAction"

_REASONS = {
    Reason.ASKED: "Asked for a person",
    Reason.FAILED_TRIES: "The bot could not help after several tries",
    Reason.TROUBLESHOOTING_DEAD_END: "Troubleshooting did not fix it",
    Reason.FRUSTRATION: "Sounded frustrated",
}
_SENDERS = {"customer": "Customer", "bot": "Bot", "agent": "Agent"}


class TeamsDesk:
    name = "teams"

    def __init__(self, documents: DocumentStore, outbound: Outbound) -> None:
        self._documents = documents
        self._outbound = outbound

    async def channel(self) -> ConversationRef | None:
        stored = (await self._documents.read([DESK_KEY])).get(DESK_KEY)
        return ConversationRef.model_validate(stored.data["channel"]) if stored else None

    async def register(self, channel: ConversationRef, by: str, at: datetime) -> None:
        data = {"channel": channel.to_json(), "registeredBy": by, "at": at.isoformat()}
        await self._documents.write({DESK_KEY: DocumentWrite(data)})

    async def ready(self) -> bool:
        return await self.channel() is not None

    def answers_on(self, case: Case) -> None:
        return None  # the card's thread, known once the card is posted

    async def open_case(self, case: Case, position: int) -> Case:
        channel = await self.channel()
        if channel is None:
            raise DeskUnavailable("no agents' channel: an agent sends /desk here in one")
        card_id = await self._outbound.send(channel, card_message(case, position))
        if not card_id:
            raise DeskUnavailable("Teams gave the card no id: its thread cannot be found")
        thread = channel.model_copy(
            update={"conversation_id": f"{channel.conversation_id};messageid={card_id}"}
        )
        return case.model_copy(update={"desk_thread": thread, "desk_card_id": card_id})

    async def case_changed(self, case: Case) -> None:
        if case.desk_thread is None or case.desk_card_id is None:
            return
        await self._outbound.update(case.desk_thread, case.desk_card_id, card_message(case))

    async def customer_said(self, case: Case, text: str) -> None:
        if case.desk_thread is not None:
            name = case.customer_name or "Customer"
            await self._outbound.send(case.desk_thread, _text(f"**{name}:** {text}"))

    async def customer_typing(self, case: Case) -> None:
        if case.desk_thread is not None:
            await self._outbound.send(case.desk_thread, {"type": "typing"})

    async def remind(self, case: Case, waited_minutes: int) -> None:
        if case.desk_thread is not None:
            await self._outbound.send(
                case.desk_thread,
                _text(f"Still waiting after {waited_minutes} minutes: who can take it?"),
            )


def card_message(case: Case, position: int | None = None) -> Json:
    """The case's card, as a Teams message (the same card, updated, as the case moves)."""
    title = f"{case.customer_name or 'A customer'} on {_channel(case)}"
    return {
        "type": "message",
        "summary": f"Customer waiting: {title}",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "type": "AdaptiveCard",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": "1.5",
                "body": [
                    {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
                     "wrap": True},
                    {"type": "TextBlock", "text": _status(case, position), "wrap": True,
                     "color": "Attention" if case.state == CaseState.WAITING else "Default"},
                    {"type": "FactSet", "facts": [
                        {"title": "Why", "value": _REASONS.get(case.reason, case.reason)},
                        {"title": "Asked at", "value": _time(case.requested_at)},
                        *({"title": name, "value": value} for name, value in case.facts),
                    ]},
                    *_transcript(case),
                ],
                "actions": _actions(case),
            },
        }],
    }  # fmt: skip


def _channel(case: Case) -> str:
    for name, value in case.facts:
        if name == "Channel":
            return value
    return case.customer.channel_id


def _status(case: Case, position: int | None) -> str:
    agent = case.agent.name if case.agent else "an agent"
    match case.state:
        case CaseState.WAITING:
            return f"Waiting (number {position} in the queue)" if position else "Waiting"
        case CaseState.WITH_AGENT:
            who = case.agent.name if case.agent else "An agent"  # a name is kept as written
            return f"{who} has it since {_time(case.taken_at)}"
        case CaseState.ENDED:
            minutes = round((case.handling_seconds or 0) / 60)
            return f"Ended by {agent} after {minutes} min: the customer is back with the bot"
        case CaseState.WITHDRAWN:
            return "The customer stopped waiting"
        case CaseState.TIMED_OUT:
            return "Nobody took it in time: the customer was offered to leave a note"
        case _:
            return "Closed"


def _transcript(case: Case) -> list[dict[str, Any]]:
    if not case.transcript:
        return [{"type": "TextBlock", "isSubtle": True, "wrap": True,
                 "text": "No earlier messages (none are kept from some channels)."}]  # fmt: skip
    lines = [{"type": "TextBlock", "text": "Recent messages", "weight": "Bolder",
              "separator": True}]  # fmt: skip
    for line in case.transcript:
        sender = _SENDERS.get(line.sender, line.sender)
        lines.append({"type": "TextBlock", "wrap": True, "spacing": "None",
                      "text": f"**{sender}:** {line.text}"})  # fmt: skip
    return lines


def _actions(case: Case) -> list[dict[str, Any]]:
    if case.state == CaseState.WAITING:
        return [{"type": "Action.Submit", "title": "Take it",
                 "data": {ACTION_FIELD: TAKE, "case": case.id}}]  # fmt: skip
    if case.state == CaseState.WITH_AGENT:
        return [{"type": "Action.Submit", "title": "End",
                 "data": {ACTION_FIELD: END, "case": case.id}}]  # fmt: skip
    return []


def _time(moment: datetime | None) -> str:
    return moment.strftime("%H:%M UTC") if moment else "-"


def _text(text: str) -> Json:
    return {"type": "message", "text": text, "textFormat": "markdown"}
