"""What happens when a turn fails: the customer is told, the operator gets a log line."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from botbuilder.core import ConversationState, TurnContext

from channels.replies import TURN_FAILED
from dialogs.reply_activity import send_reply
from state.documents import StorageError

log = logging.getLogger(__name__)

TurnErrorHandler = Callable[[TurnContext, Exception], Awaitable[None]]


def turn_error_handler(conversation_state: ConversationState) -> TurnErrorHandler:
    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        activity = turn_context.activity
        # The activity id and channel, never the customer's words.
        log.error(
            "turn failed: activity %s on %s: %s",
            activity.id,
            activity.channel_id,
            type(error).__name__,
            exc_info=error,
        )
        try:
            await send_reply(turn_context, TURN_FAILED)
            if activity.channel_id == "emulator":
                await turn_context.send_trace_activity(
                    "OnTurnError Trace",
                    f"{type(error).__name__}: {error}",
                    "https://www.botframework.com/schemas/error",
                    "TurnError",
                )
        except Exception:
            log.exception("could not tell the customer about failed activity %s", activity.id)
        if isinstance(error, StorageError):
            return  # nothing can be written now; the turn's own changes were never saved
        # Start the next message clean instead of failing on the same dialog step again.
        try:
            await conversation_state.clear_state(turn_context)
            await conversation_state.save_changes(turn_context, force=True)
        except Exception:
            log.exception("could not clear dialog state after failed activity %s", activity.id)

    return on_turn_error
