"""Guided troubleshooting: one step at a time from a guide (troubleshooting/guides), to
"fixed", to a booking that carries what was tried, or to a person.

The walk so far (device, step, steps tried) travels in the dialog's options, so each
answer restarts the waterfall at the next step without state of its own.
"""

from __future__ import annotations

from botbuilder.core import TurnContext
from botbuilder.dialogs import (
    ComponentDialog,
    DialogInstance,
    DialogReason,
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import TextPrompt

from channels import replies
from customers.context import TroubleshootingRecord
from dialogs.booking_dialog import (
    BOOKING,
    DEVICE,
    GAVE_UP,
    TEXT,
    BookingDialog,
    one_of_offered,
)
from dialogs.clock import Clock
from dialogs.feedback import send_answer
from dialogs.handoff_dialog import REASON, HandoffDialog
from dialogs.reply_activity import choice_options, send_reply
from dialogs.task_waterfall import TaskWaterfall
from handoff.cases import Reason
from services.scheduling import AppointmentKind
from state.customer_context import CustomerContextAccessor
from troubleshooting.guides import Guide, Outcome

_CHOICE_PROMPT = "TroubleshootingDialog.choice"
_WALK, _OFFERED = "walk", "offered"
# How a walk ends when the customer leaves it, or answers three times with no answer offered.
ABANDONED = "abandoned"
_BOOKS = {
    Outcome.REPAIR: (replies.BOOK_REPAIR, AppointmentKind.IN_STORE_REPAIR),
    Outcome.TECHNICIAN: (replies.BOOK_TECHNICIAN, AppointmentKind.TECHNICIAN_VISIT),
}


def find_guide(guides: dict[str, Guide], device: str | None, text: str) -> Guide | None:
    """The guide for the device named, or the one whose symptoms the message mentions."""
    if device in guides:
        return guides[device]
    said = text.lower()
    matching = [g for g in guides.values() if any(symptom in said for symptom in g.symptoms)]
    return matching[0] if len(matching) == 1 else None


class TroubleshootingDialog(ComponentDialog):
    def __init__(
        self,
        guides: dict[str, Guide],
        booking_dialog: BookingDialog,
        customer_contexts: CustomerContextAccessor,
        clock: Clock,
    ) -> None:
        super().__init__(TroubleshootingDialog.__name__)
        self._guides = guides
        self._customer_contexts = customer_contexts
        self._clock = clock
        self._booking_id = booking_dialog.id
        self.add_dialog(booking_dialog)
        self.add_dialog(
            TaskWaterfall(
                "troubleshoot",
                [self.guide_step, self.show_step, self.answer_step, self.dead_end_step],
            )
        )
        self.add_dialog(TextPrompt(_CHOICE_PROMPT, one_of_offered))
        self.initial_dialog_id = WaterfallDialog.__name__

    async def guide_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = step.options or {}
        if options.get(_WALK):
            step.values[_WALK] = options[_WALK]
            return await step.next(None)
        guide = find_guide(self._guides, options.get(DEVICE), options.get(TEXT) or "")
        if guide is not None:
            return await step.next(guide.title)
        titles = {g.title: g.device for g in self._guides.values()}
        step.values[_OFFERED] = titles
        return await self._choose(step, replies.which_device(tuple(titles)))

    async def show_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if step.result == GAVE_UP:
            await send_reply(step.context, replies.OFFER_PERSON_INSTEAD)
            return await step.end_dialog()
        if _WALK not in step.values:
            device = next(g.device for g in self._guides.values() if g.title == step.result)
            step.values[_WALK] = {"device": device, "at": self._guides[device].start, "tried": []}
        walk = step.values[_WALK]
        guide = self._guides[walk["device"]]
        current = guide.steps[walk["at"]]
        reply = replies.guide_step(
            current.say, current.question, tuple(current.answers), first=not walk["tried"]
        )
        return await self._choose(step, reply)

    async def answer_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        walk = step.values[_WALK]
        guide = self._guides[walk["device"]]
        current = guide.steps[walk["at"]]
        if step.result == GAVE_UP:
            return await self._finish(step, guide, walk, ABANDONED)
        if step.result == replies.GO_BACK:
            *earlier, previous = walk["tried"]
            return await self._walk(step, {**walk, "at": previous, "tried": earlier})
        if step.result == replies.SKIP:
            target = current.answers.get("No") or list(current.answers.values())[-1]
        else:
            target = current.answers[step.result]
        walk = {**walk, "tried": [*walk["tried"], current.id]}
        if target in guide.steps:
            return await self._walk(step, {**walk, "at": target})
        return await self._finish(step, guide, walk, target)

    async def dead_end_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        walk, outcome = step.values[_WALK], step.values["outcome"]
        choice, kind = _BOOKS[Outcome(outcome)]
        if step.result == choice:
            guide = self._guides[walk["device"]]
            notes = f"Tried ({guide.title}): {', '.join(walk['tried'])}"
            booking = {"kind": kind.value, DEVICE: walk["device"], "notes": notes}
            return await step.replace_dialog(self._booking_id, {BOOKING: booking})
        if step.result in (replies.ASK_FOR_PERSON, GAVE_UP):
            return await self._person(step)
        await send_reply(step.context, replies.KEPT)
        return await step.end_dialog()

    async def _finish(
        self, step: WaterfallStepContext, guide: Guide, walk: dict, outcome: str
    ) -> DialogTurnResult:
        record = TroubleshootingRecord(
            device=guide.device, tried=walk["tried"], outcome=outcome, at=self._clock()
        )
        await self._customer_contexts.update(
            step.context, lambda c: c.record_troubleshooting(record)
        )
        step.values[_WALK], step.values["outcome"] = walk, outcome
        if outcome == Outcome.FIXED:
            await send_answer(step.context, "troubleshoot", replies.FIXED, outcome="fixed")
        elif outcome in _BOOKS:
            return await self._choose(step, replies.dead_end(outcome))
        elif outcome == Outcome.PERSON:
            return await self._person(step)
        elif outcome == ABANDONED:
            await send_reply(step.context, replies.OFFER_PERSON_INSTEAD)
        else:
            await send_reply(step.context, replies.guide_end(guide.ends[outcome]))
        return await step.end_dialog()

    async def end_dialog(
        self, context: TurnContext, instance: DialogInstance, reason: DialogReason
    ) -> None:
        # Left half-way ("cancel", a person, deleting one's data): recorded as abandoned.
        # Read before the base class empties the inner stack.
        walk = _walk_under_way(instance)
        await super().end_dialog(context, instance, reason)
        if reason == DialogReason.CancelCalled and walk is not None:
            record = TroubleshootingRecord(device=walk["device"], tried=walk["tried"],
                                           outcome=ABANDONED, at=self._clock())  # fmt: skip
            await self._customer_contexts.update(
                context, lambda c: c.record_troubleshooting(record)
            )

    async def _walk(self, step: WaterfallStepContext, walk: dict) -> DialogTurnResult:
        return await step.replace_dialog(self.initial_dialog_id, {_WALK: walk})

    async def _person(self, step: WaterfallStepContext) -> DialogTurnResult:
        return await step.replace_dialog(
            HandoffDialog.__name__, {REASON: Reason.TROUBLESHOOTING_DEAD_END.value}
        )

    async def _choose(self, step: WaterfallStepContext, reply: replies.Reply) -> DialogTurnResult:
        return await step.prompt(_CHOICE_PROMPT, choice_options(step.context, reply))


def _walk_under_way(instance: DialogInstance) -> dict | None:
    """The walk in this dialog's waterfall, while it is still on a step."""
    inner = instance.state.get(ComponentDialog.persisted_dialog_state)
    stack = getattr(inner, "dialog_stack", None) or []
    for frame in stack:
        values = (frame.state or {}).get("values") or {}
        if _WALK in values and "outcome" not in values:
            return values[_WALK]
    return None
