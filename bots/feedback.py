"""The customer's answer to "Was this helpful?", on the message after the answer.

The question stands for one message: "Helpful" or "Not helpful" answer it (recorded as a
feedback event for the task); anything else means the customer has moved on, and the
question is dropped unanswered. "Not helpful" offers a person or a few words on what went
wrong; those words are kept for review, masked, where the privacy policy allows.
On Teams the answer comes from its own feedback buttons, as a `message/submitAction`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botbuilder.core import ConversationState, TurnContext

from analytics.events import EventName
from channels import replies
from dialogs.feedback import FEEDBACK_ASKED
from dialogs.reply_activity import send_reply
from dialogs.turn_events import record
from nlu.review import ReviewQueue

log = logging.getLogger(__name__)

REASON_LIMIT = 500


class FeedbackCollector:
    def __init__(
        self,
        conversation_state: ConversationState,
        review: ReviewQueue | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._asked = conversation_state.create_property("feedbackAsked")
        self._review = review
        self._clock = clock

    async def message(self, turn_context: TurnContext, text: str) -> bool:
        """True when the message answered the question (and was answered here)."""
        asked: dict[str, Any] | None = await self._asked.get(turn_context)
        if not asked or turn_context.activity.channel_id == "msteams":
            # On Teams the thumbs stay on the answer: they are answered by an invoke, later.
            return False
        await self._asked.delete(turn_context)
        said = text.strip().lower()
        task = asked.get("task")
        if asked.get("reasonFor"):
            if said == replies.ASK_FOR_PERSON.lower():
                return False  # the person offered: the dialogs take it from here
            await self._keep_reason(turn_context, asked["reasonFor"], text)
            await send_reply(turn_context, replies.FEEDBACK_NOTED)
            return True
        if said not in (replies.HELPFUL.lower(), replies.NOT_HELPFUL.lower()):
            return False  # moved on: the question is dropped unanswered
        helpful = said == replies.HELPFUL.lower()
        record(turn_context, EventName.FEEDBACK, task, helpful=helpful)
        if helpful:
            await send_reply(turn_context, replies.THANKS_FOR_FEEDBACK)
        else:
            await self._asked.set(turn_context, {"reasonFor": task})
            await send_reply(turn_context, replies.SORRY_NOT_HELPFUL)
        return True

    async def teams_feedback(self, turn_context: TurnContext) -> None:
        """A click on Teams' feedback buttons (the invoke is answered 200 by the caller)."""
        value = turn_context.activity.value if isinstance(turn_context.activity.value, dict) else {}
        action = value.get("actionValue") if isinstance(value.get("actionValue"), dict) else {}
        reaction = action.get("reaction")
        if value.get("actionName") != "feedback" or reaction not in ("like", "dislike"):
            log.info("a message/submitAction that is not feedback: ignored")
            return
        asked: dict[str, Any] | None = await self._asked.get(turn_context)
        task = (asked or {}).get("task")
        record(turn_context, EventName.FEEDBACK, task, helpful=reaction == "like")
        if asked:
            await self._asked.delete(turn_context)

    async def remember(self, turn_context: TurnContext) -> None:
        """After a turn: the question its answer asked stands until the next message."""
        task = turn_context.turn_state.get(FEEDBACK_ASKED)
        if task:
            await self._asked.set(turn_context, {"task": task, "at": self._clock().isoformat()})

    async def _keep_reason(self, turn_context: TurnContext, task: str, text: str) -> None:
        if self._review is None or not text.strip():
            return
        channel = turn_context.activity.channel_id
        await self._review.keep(text[:REASON_LIMIT], task or "unknown", 0.0, "notHelpful",
                                channel, self._clock())  # fmt: skip
