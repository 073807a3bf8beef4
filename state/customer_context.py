"""The customer's context as botbuilder state: one document per customer, on every channel.

botbuilder's UserState is keyed by channel and channel user id, so one person on
Teams and on web chat would be two strangers. CustomerState is keyed by the
customer id the bot resolved for the turn (customers/identity.py).

Changes go through `CustomerContextAccessor.update`, which keeps to the channel's
privacy policy and records each change, so that a turn that meets a concurrent
one applies its changes again to the fresher context (state/turn_state.py).
"""

from __future__ import annotations

from collections.abc import Callable

from botbuilder.core import BotState, TurnContext

from customers.context import CustomerContext
from customers.identity import CONTEXT_PROPERTY, customer_key
from customers.privacy import PrivacyPolicy
from state.turn_state import before_save, replay_on_conflict

# turn_state key under which the bot puts the customer id it resolved for the turn.
CUSTOMER_ID = "customerId"

Change = Callable[[CustomerContext], None]


def turn_customer_id(turn_context: TurnContext) -> str | None:
    return turn_context.turn_state.get(CUSTOMER_ID)


class CustomerState(BotState):
    def __init__(self, storage) -> None:
        super().__init__(storage, "CustomerState")

    def get_storage_key(self, turn_context: TurnContext) -> str:
        customer_id = turn_customer_id(turn_context)
        if not customer_id:
            raise TypeError("no customer was resolved for this activity")
        return customer_key(customer_id)


class CustomerContextAccessor:
    """Reads and changes the turn's customer context; saved with the customer state."""

    PROPERTY = CONTEXT_PROPERTY
    _CHANGES = "customerContext.changes"
    # The context read this turn, with the stored document it was read from: a turn reads
    # it a few times and changes it a few times, and each read was a full validation.
    _READ = "customerContext.read"

    def __init__(self, customer_state: CustomerState, privacy: PrivacyPolicy | None = None) -> None:
        self._property = customer_state.create_property(self.PROPERTY)
        self._privacy = privacy or PrivacyPolicy()

    async def get(self, turn_context: TurnContext) -> CustomerContext:
        """The turn's customer context, to read: change it only through `update`."""
        stored = await self._property.get(turn_context, dict)
        read = turn_context.turn_state.get(self._READ)
        if read is not None and read[0] is stored:
            return read[1]
        context = CustomerContext.from_json(stored)
        turn_context.turn_state[self._READ] = (stored, context)
        return context

    async def update(self, turn_context: TurnContext, change: Change) -> CustomerContext:
        """Applies `change` now, and again to a fresher context if another turn wrote one."""
        channel = turn_context.activity.channel_id

        def allowed(context: CustomerContext) -> None:
            if not self._privacy.restricts(channel):
                change(context)
                return
            before = context.model_copy(deep=True)
            change(context)
            self._privacy.keep_allowed(channel, before, context)

        changes: list[Change] = turn_context.turn_state.setdefault(self._CHANGES, [])
        changes.append(allowed)
        context = await self.get(turn_context)
        allowed(context)

        async def store() -> None:
            # Once a save, however many changes the turn made (each dump was 0.1 ms).
            stored = context.to_json()
            await self._property.set(turn_context, stored)
            turn_context.turn_state[self._READ] = (stored, context)

        before_save(turn_context, self.PROPERTY, store)
        replay_on_conflict(turn_context, self.PROPERTY, lambda fresh: _replay(changes, fresh))
        return context


def _replay(changes: list[Change], fresh: dict | None) -> dict:
    context = CustomerContext.from_json(fresh)
    for change in changes:
        change(context)
    return context.to_json()
