"""Recording analytics events from inside a turn.

The analytics middleware (bots/analytics_middleware.py) puts a collector in the turn's
state; dialogs call `record` with what happened, and the middleware turns each into a
ConversationEvent (channel, pseudonymous customer and conversation) when the turn ends.
Without the middleware (dialog tests), recording does nothing.
"""

from __future__ import annotations

from datetime import datetime

from botbuilder.core import TurnContext

from analytics.events import EventName, Property

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
