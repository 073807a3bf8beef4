"""The customer's side of a hand-off: while a case is open, the conversation is the agent's.

The case the customer's conversation is in is kept in the conversation's state
(`handoffCase`); only then is the case read. While waiting, "cancel" withdraws the
request and anything else is passed on; with an agent, every message and every typing
indicator goes to the agent and the bot says nothing. Once the case is over, the next
message is read once for what the bot asked last (did it help? leave a note?), and
the conversation is the bot's again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from botbuilder.core import ConversationState, TurnContext
from recognizers_choice import recognize_boolean

from analytics.events import EventName
from channels import replies
from dialogs.reply_activity import send_reply
from dialogs.turn_events import record
from handoff.cases import Case, CaseState
from handoff.service import HandoffService
from state.documents import StorageError

log = logging.getLogger(__name__)

_RATINGS = frozenset({"1", "2", "3", "4", "5"})
_STOP_WAITING = re.compile(
    r"^\s*(?:cancel|stop|stop waiting|never ?mind|nevermind|forget it|no thanks|"
    r"i don'?t need (?:a person|anyone|help) any ?more"
    # The same in Spanish, German and French.
    r"|cancelar|para|olv[ií]dalo|ya no|abbrechen|stopp|egal|vergessen sie es|annuler|arr[eê]te"
    r"|laisse tomber|tant pis)\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FollowUp:
    """The customer wants to leave a note: no agent could take the case, or it did not
    solve the problem."""

    case: Case

    @property
    def why_no_person(self) -> str:
        return "notSolved" if self.case.state == CaseState.ENDED else self.case.state.value


class HandoffRelay:
    def __init__(self, handoff: HandoffService, conversation_state: ConversationState) -> None:
        self._handoff = handoff
        self.case_property = conversation_state.create_property("handoffCase")

    async def message(
        self, turn_context: TurnContext, text: str, picked: str | None = None
    ) -> bool | FollowUp:
        """True when the message belonged to a hand-off and was dealt with here; a FollowUp
        when the customer chose to leave a note; False when it is the bot's to answer.
        `picked` is the choice the text picks, as the bot knows it ("Sí" -> "Yes"); the
        agent reads the text as written."""
        case = await self._case(turn_context)
        if case is None:
            return False
        picked = picked or text
        if case.state == CaseState.WAITING and _STOP_WAITING.match(picked):
            await self._handoff.withdraw(case.id)
            await self.case_property.delete(turn_context)
            await send_reply(turn_context, replies.STOPPED_WAITING)
            return True
        if case.state.open:
            try:
                await self._handoff.customer_said(case, _with_links(turn_context, text))
            except (ConnectionError, TimeoutError, StorageError):
                await send_reply(turn_context, replies.AGENT_UNREACHABLE)
            return True
        # The case is over: this message answers the bot's last question, if it can.
        said = picked.strip().lower()
        if case.state == CaseState.ENDED and case.solved is None:
            solved = _yes_or_no(picked, turn_context.activity.locale)
            if solved is None:
                await self.case_property.delete(turn_context)
                return False
            await self._handoff.record_solved(case.id, solved)
            agent = case.agent.name if case.agent else replies.OUR_TEAM
            await send_reply(turn_context, replies.ask_rating(agent))
            return True
        if case.state == CaseState.ENDED and case.rating is None and said in _RATINGS:
            score = int(said)
            await self._handoff.record_rating(case.id, score)
            record(turn_context, EventName.SATISFACTION, score=score)
            if case.solved:
                await self.case_property.delete(turn_context)
                await send_reply(turn_context, replies.THANKS_FOR_RATING)
            else:
                # Not solved: the next message may take the offer of a note (kept till then).
                await send_reply(turn_context, replies.SORRY_NOT_SOLVED)
            return True
        await self.case_property.delete(turn_context)
        note_offered = case.state in (CaseState.TIMED_OUT, CaseState.FAILED) or (
            case.state == CaseState.ENDED and case.solved is False and case.rating is not None
        )
        if note_offered and said == replies.LEAVE_A_NOTE.lower():
            return FollowUp(case)
        if note_offered and said == replies.NO_THANKS.lower():
            await send_reply(turn_context, replies.NO_NOTE)
            return True
        return False

    async def typing(self, turn_context: TurnContext) -> None:
        case = await self._case(turn_context)
        if case is not None and case.state.open:
            await self._handoff.customer_typing(case)

    async def _case(self, turn_context: TurnContext) -> Case | None:
        case_id = await self.case_property.get(turn_context)
        if not case_id:
            return None
        case = await self._handoff.get(case_id)
        if case is None:
            await self.case_property.delete(turn_context)
        return case


def _yes_or_no(text: str, locale: str | None) -> bool | None:
    results = recognize_boolean(text, (locale or "en-us").lower())
    if results and results[0].resolution:
        return bool(results[0].resolution.get("value"))
    return None


def _with_links(turn_context: TurnContext, text: str) -> str:
    """The customer's words, with any file they sent as a link the agent can open."""
    links = [
        f"{a.name or 'attachment'}: {a.content_url}"
        for a in turn_context.activity.attachments or []
        if getattr(a, "content_url", None)
    ]
    return "\n".join(filter(None, [text, *links]))
