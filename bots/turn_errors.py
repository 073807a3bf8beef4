"""What happens when a turn fails: the customer is told, the operator gets a log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from botbuilder.core import ConversationState, TurnContext

from channels.replies import TURN_FAILED
from dialogs.reply_activity import send_reply
from state.documents import StorageError
from state.storage_health import StorageHealth

log = logging.getLogger(__name__)

TurnErrorHandler = Callable[[TurnContext, Exception], Awaitable[None]]


# The same failure again within this many seconds is counted, not logged again.
REPEAT_WINDOW = 60.0


class RepeatedFailures:
    """A full disk fails every turn the same way: log it once with its traceback, then a
    count a window, so the log says what happened without filling the disk further."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: tuple[str, str] | None = None
        self._since = 0.0
        self._repeats = 0

    def log(self, error: Exception, message: str, *args: object) -> None:
        signature = (type(error).__name__, str(error))
        now = self._clock()
        if signature == self._last and now - self._since < REPEAT_WINDOW:
            self._repeats += 1
            return
        if self._repeats:
            log.error("the failure before repeated %d more time(s) in %.0f s: %s",
                      self._repeats, now - self._since, ": ".join(self._last or ()))  # fmt: skip
        repeated = signature == self._last
        self._last, self._since, self._repeats = signature, now, 0
        if repeated:  # still failing the same way: no new traceback
            log.error(message + " (still failing the same way)", *args)
        else:
            log.error(message, *args, exc_info=error)


def turn_error_handler(
    conversation_state: ConversationState, storage_health: StorageHealth
) -> TurnErrorHandler:
    failures = RepeatedFailures()

    async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
        activity = turn_context.activity
        # The activity id and channel, never the customer's words.
        failures.log(
            error,
            "turn failed: activity %s on %s: %s",
            activity.id,
            activity.channel_id,
            type(error).__name__,
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
            storage_health.failed()
            return  # nothing can be written now; the turn's own changes were never saved
        # Start the next message clean instead of failing on the same dialog step again.
        try:
            await conversation_state.clear_state(turn_context)
            await conversation_state.save_changes(turn_context, force=True)
        except Exception:
            log.exception("could not clear dialog state after failed activity %s", activity.id)

    return on_turn_error
