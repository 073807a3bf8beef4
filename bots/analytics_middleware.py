"""Analytics events, collected during each turn and written after it, off the turn's path.

Every event names the channel, the conversation (hashed) and the customer by the random
analytics id kept in their context (never the customer id): "forget me" deletes that id,
and what was recorded can no longer be tied to anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from botbuilder.core import Middleware, TurnContext

from analytics.events import ConversationEvent, conversation_pseudonym
from dialogs.turn_events import ANALYTICS_ID, TURN_EVENTS, TurnEvents

log = logging.getLogger(__name__)


class AnalyticsMiddleware(Middleware):
    def __init__(
        self, record: Callable[[ConversationEvent], None], clock: Callable[[], datetime]
    ) -> None:
        self._record = record
        self._clock = clock

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        collector = TurnEvents()
        context.turn_state[TURN_EVENTS] = collector
        try:
            await logic()
        finally:
            if collector.recorded:
                self._keep(context, collector)

    def _keep(self, context: TurnContext, collector: TurnEvents) -> None:
        activity = context.activity
        customer = context.turn_state.get(ANALYTICS_ID) or "unknown"
        conversation = conversation_pseudonym(activity.channel_id, activity.conversation.id)
        now = self._clock()
        for name, at, task, props in collector.recorded:
            self._record(ConversationEvent(
                name, at or now, activity.channel_id, customer, conversation, task, props,
            ))  # fmt: skip
