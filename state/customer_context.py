"""What the bot remembers about a customer between conversations.

Stored as plain JSON with a schema version inside the customer's user state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from botbuilder.core import TurnContext, UserState
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# An order asked about within this long is offered again ("Is this about order 123456?").
RECENT_ORDER_WINDOW = timedelta(days=30)


class CustomerContext(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    schema_version: int = 1
    last_order_number: str | None = None
    last_order_at: datetime | None = None
    last_intent: str | None = None
    handoff_requested_at: datetime | None = None

    def recent_order_number(self, now: datetime) -> str | None:
        recent = self.last_order_at and now - self.last_order_at <= RECENT_ORDER_WINDOW
        return self.last_order_number if recent else None

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)


class CustomerContextAccessor:
    """Reads and writes a customer's context within a turn; saved with the user state."""

    PROPERTY = "customerContext"

    def __init__(self, user_state: UserState) -> None:
        self._property = user_state.create_property(self.PROPERTY)

    async def get(self, turn_context: TurnContext) -> CustomerContext:
        return CustomerContext.model_validate(await self._property.get(turn_context, dict))

    async def set(self, turn_context: TurnContext, context: CustomerContext) -> None:
        await self._property.set(turn_context, context.to_json())
