"""Recording analytics events from inside a turn.

The analytics middleware (bots/analytics_middleware.py) puts a collector in the turn's
state; dialogs call `record` with what happened, and the middleware turns each into a
ConversationEvent (channel, pseudonymous customer and conversation) when the turn ends.
Without the middleware (dialog tests), recording does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from botbuilder.core import TurnContext

from analytics.events import EventName, Property
from customers.context import CustomerContext

TURN_EVENTS = "analytics.turnEvents"
# turn_state key: the customer's analytics id, put there by the bot once it knows who it is.
ANALYTICS_ID = "analytics.customer"


class TurnEvents:
    def __init__(self) -> None:
        self.recorded: list[tuple[EventName, datetime | None, str | None, dict[str, Property]]] = []


def record(
    turn_context: TurnContext,
    name: EventName,
    task: str | None = None,
    *,
    at: datetime | None = None,
    **props: Property,
) -> None:
    collector: TurnEvents | None = turn_context.turn_state.get(TURN_EVENTS)
    if collector is not None:
        collector.recorded.append((name, at, task, props))


# Deletes a customer's events: (analytics id, days) -> how many were deleted.
ForgetEvents = Callable[[str, list[date]], Awaitable[int]]
_log = logging.getLogger(__name__)
_forgetting: set[asyncio.Task[int]] = set()


def forget_analytics(
    turn_context: TurnContext, context: CustomerContext, forget: ForgetEvents | None
) -> None:
    """ "Forget me": this turn records nothing more, and the customer's events are deleted in
    the background (the days to scan may hold many customers' events; the turn need not
    wait). Until they are, the analytics id they carry is already gone with the context."""
    turn_context.turn_state[ANALYTICS_ID] = None
    collector: TurnEvents | None = turn_context.turn_state.get(TURN_EVENTS)
    if collector is not None:
        collector.recorded.clear()
        turn_context.turn_state.pop(TURN_EVENTS)
    if forget is None:
        return
    days = [date.fromisoformat(day) for day in context.analytics_days]
    task = asyncio.create_task(_forget(forget, context.analytics_id, days))
    _forgetting.add(task)
    task.add_done_callback(_forgetting.discard)


async def _forget(forget: ForgetEvents, customer: str, days: list[date]) -> int:
    try:
        removed = await forget(customer, days)
    except Exception as error:  # logged, never raised: the turn is long over
        _log.warning("a forgotten customer's events were not all deleted: %s", error)
        return 0
    _log.info("a forgotten customer's events deleted: %d", removed)
    return removed
