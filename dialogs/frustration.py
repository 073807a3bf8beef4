"""Noticing an upset customer: above FRUSTRATION_THRESHOLD the bot apologises and offers a
person before anything else, once per task; taking the offer starts a hand-off whose
reason is "frustration". The score is nlu/frustration.py's.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from botbuilder.core import StatePropertyAccessor, TurnContext

from analytics.events import EventName
from channels import replies
from dialogs.reply_activity import PICKED_CHOICE, send_reply, understanding_language
from dialogs.turn_events import record
from nlu.frustration import Conversation, FrustrationScorer

# The task an offer was made for when no task is under way.
NO_TASK = "none"


class OfferAnswer(StrEnum):
    PERSON = "person"
    DECLINED = "declined"


class FrustrationWatch:
    def __init__(
        self,
        scorer: FrustrationScorer,
        threshold: float,
        state: StatePropertyAccessor,
        not_understood: StatePropertyAccessor,
    ) -> None:
        self._scorer = scorer
        self._threshold = threshold
        # {"offeredFor": [tasks], "pending": bool, "last": hash of the last message}
        self._state = state
        self._not_understood = not_understood

    async def answer(self, turn_context: TurnContext) -> OfferAnswer | None:
        """The customer's answer to the offer made on their previous message, if any (the
        offer lasts one message, like any question left open)."""
        state = await self._state.get(turn_context, dict)
        if not state.get("pending"):
            return None
        await self._state.set(turn_context, {**state, "pending": False})
        said = (turn_context.activity.text or "").strip().lower()
        if not turn_context.turn_state.get(PICKED_CHOICE):
            return None
        if said == replies.ASK_FOR_PERSON.lower():
            return OfferAnswer.PERSON
        if said == replies.NO_THANKS.lower():
            return OfferAnswer.DECLINED
        return None

    async def offered(self, turn_context: TurnContext, task: str | None) -> bool:
        """Scores the message; at the threshold, and not yet offered for this task, sends
        the apology and the offer of a person. True when it did."""
        text = turn_context.activity.text or ""
        state = await self._state.get(turn_context, dict)
        said = _fingerprint(text)
        conversation = Conversation(
            missed=await self._not_understood.get(turn_context, lambda: 0),
            repeated=bool(said) and said == state.get("last"),
        )
        state = {**state, "last": said}
        frustration = self._scorer.score(text, understanding_language(turn_context), conversation)
        task = task or NO_TASK
        offered_for = list(state.get("offeredFor", []))
        if frustration.score < self._threshold or task in offered_for:
            await self._state.set(turn_context, state)
            return False
        await self._state.set(
            turn_context, {**state, "offeredFor": [*offered_for, task], "pending": True}
        )
        record(
            turn_context,
            EventName.FRUSTRATION,
            None if task == NO_TASK else task,
            score=frustration.score,
        )
        await send_reply(turn_context, replies.FRUSTRATION_OFFER)
        return True


def _fingerprint(text: str) -> str:
    """The message, recognisable when repeated, without keeping its words."""
    plain = " ".join(text.casefold().split())
    return hashlib.sha256(plain.encode()).hexdigest()[:16] if plain else ""
