"""What the bot remembers about a customer between conversations.

Stored as plain JSON with a schema version inside the customer's user state.
Changes are made through `CustomerContextAccessor.update`, which records them so
that a turn that meets a concurrent one can apply them again to the fresher
context instead of overwriting it (state/turn_state.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from botbuilder.core import TurnContext, UserState
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from state.turn_state import replay_on_conflict

# An order asked about within this long is offered again ("Is this about order 123456?").
RECENT_ORDER_WINDOW = timedelta(days=30)


class CustomerContext(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    schema_version: int = 1
    last_order_number: str | None = None
    last_order_at: datetime | None = None
    last_intent: str | None = None
    handoff_requested_at: datetime | None = None
    # Messages the customer has sent the bot, on every channel and conversation.
    message_count: int = 0

    def recent_order_number(self, now: datetime) -> str | None:
        recent = self.last_order_at and now - self.last_order_at <= RECENT_ORDER_WINDOW
        return self.last_order_number if recent else None

    def count_message(self) -> None:
        self.message_count += 1

    def remember_order(self, order_number: str, at: datetime) -> None:
        self.last_order_number, self.last_order_at = order_number, at

    def remember_intent(self, intent: str) -> None:
        self.last_intent = intent

    def request_handoff(self, at: datetime) -> None:
        self.handoff_requested_at = at

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, data: dict | None) -> CustomerContext:
        return cls.model_validate(data or {})


Change = Callable[[CustomerContext], None]


class CustomerContextAccessor:
    """Reads and changes a customer's context within a turn; saved with the user state."""

    PROPERTY = "customerContext"
    _CHANGES = "customerContext.changes"

    def __init__(self, user_state: UserState) -> None:
        self._property = user_state.create_property(self.PROPERTY)

    async def get(self, turn_context: TurnContext) -> CustomerContext:
        return CustomerContext.from_json(await self._property.get(turn_context, dict))

    async def update(self, turn_context: TurnContext, change: Change) -> CustomerContext:
        """Applies `change` now, and again to a fresher context if another turn wrote one."""
        changes: list[Change] = turn_context.turn_state.setdefault(self._CHANGES, [])
        changes.append(change)
        context = await self.get(turn_context)
        change(context)
        await self._property.set(turn_context, context.to_json())
        replay_on_conflict(turn_context, self.PROPERTY, lambda fresh: _replay(changes, fresh))
        return context


def _replay(changes: list[Change], fresh: dict | None) -> dict:
    context = CustomerContext.from_json(fresh)
    for change in changes:
        change(context)
    return context.to_json()
