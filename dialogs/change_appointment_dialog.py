"""Check, move or cancel an appointment: "when is my appointment?", "move it to Thursday",
"cancel my repair booking".

The customer's own appointments are found by who they are; a customer the bot does not
know here (a new web chat) is asked for the booking reference. Moving goes through the
booking dialog's slot choice, so both tasks offer times the same way.
"""

from __future__ import annotations

import re

from botbuilder.dialogs import (
    ComponentDialog,
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import PromptValidatorContext, TextPrompt

from channels import replies
from dialogs.booking_dialog import (
    BOOKING,
    DEVICE,
    GAVE_UP,
    RESCHEDULE,
    TEXT,
    WHEN,
    BookingDialog,
    one_of_offered,
)
from dialogs.clock import Clock, customer_now
from dialogs.feedback import send_answer
from dialogs.reply_activity import choice_options, confirm_prompt, prompt_options, send_reply
from dialogs.task_waterfall import TaskWaterfall
from services.scheduling import (
    REFERENCE_PREFIX,
    Appointment,
    AppointmentNotFound,
    SchedulingService,
    SchedulingUnavailable,
)
from state.customer_context import turn_customer_id

_CHOICE_PROMPT = "ChangeAppointmentDialog.choice"
_REFERENCE_PROMPT = "ChangeAppointmentDialog.reference"
_CONFIRM_PROMPT = "ChangeAppointmentDialog.confirm"
_FOUND, _OFFERED = "found", "offered"
_REFERENCE = re.compile(rf"{REFERENCE_PREFIX}[A-Z0-9]{{6}}", re.IGNORECASE)
_CANCEL_WORDS = re.compile(r"\b(?:cancel|call off|don'?t need|scrap|delete)", re.IGNORECASE)
_MOVE_WORDS = re.compile(
    r"\b(?:move|reschedul|rearrang|change|push|bring (?:it )?forward|postpone|another day|"
    r"different (?:day|time))",
    re.IGNORECASE,
)


class ChangeAppointmentDialog(ComponentDialog):
    def __init__(
        self, scheduling: SchedulingService, booking_dialog: BookingDialog, clock: Clock
    ) -> None:
        super().__init__(ChangeAppointmentDialog.__name__)
        self._scheduling = scheduling
        self._clock = clock
        self._booking_id = booking_dialog.id
        self.add_dialog(booking_dialog)
        self.add_dialog(
            TaskWaterfall(
                "changeAppointment",
                [
                    self.find_step,
                    self.which_step,
                    self.action_step,
                    self.act_step,
                    self.cancel_step,
                ],
            )
        )
        self.add_dialog(TextPrompt(_CHOICE_PROMPT, one_of_offered))
        self.add_dialog(TextPrompt(_REFERENCE_PROMPT, _reference_validator))
        self.add_dialog(confirm_prompt(_CONFIRM_PROMPT))
        self.initial_dialog_id = WaterfallDialog.__name__

    async def find_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = step.options or {}
        text = options.get(TEXT) or ""
        step.values[TEXT], step.values[WHEN] = text, options.get(WHEN)
        if _REFERENCE.search(text):
            appointment = await self._by_reference(step, text)
            if appointment is None:
                return await step.end_dialog()
            step.values[_FOUND] = [appointment.to_json()]
            return await step.next(None)
        try:
            found = await self._scheduling.list_for_customer(turn_customer_id(step.context) or "")
        except SchedulingUnavailable:
            await send_reply(step.context, replies.SCHEDULING_DOWN)
            return await step.end_dialog()
        if not found:
            return await step.prompt(
                _REFERENCE_PROMPT,
                prompt_options(step.context, replies.ASK_REFERENCE, replies.ASK_REFERENCE),
            )
        step.values[_FOUND] = [a.to_json() for a in found]
        return await step.next(None)

    async def which_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if isinstance(step.result, str):  # a reference typed
            if step.result == GAVE_UP:
                await send_reply(step.context, replies.REFERENCE_NOT_FOUND)
                return await step.end_dialog()
            appointment = await self._by_reference(step, step.result)
            if appointment is None:
                return await step.end_dialog()
            step.values[_FOUND] = [appointment.to_json()]
        found = [Appointment.from_json(a) for a in step.values[_FOUND]]
        if len(found) == 1:
            return await step.next(found[0].reference)
        catalogue = await self._scheduling.catalogue()
        now = customer_now(step.context.activity, self._clock)
        labels = {}
        for appointment in found:
            what, _, start = replies.describe_appointment(catalogue, appointment, now)
            labels[replies.appointment_choice(what, start)] = appointment.reference
        step.values[_OFFERED] = labels
        return await step.prompt(
            _CHOICE_PROMPT,
            choice_options(step.context, replies.which_appointment(tuple(labels))),
        )

    async def _by_reference(self, step: WaterfallStepContext, text: str) -> Appointment | None:
        """The appointment whose reference the text holds; None (the customer told why)."""
        try:
            return await self._scheduling.get(_REFERENCE.search(text).group().upper())
        except AppointmentNotFound:
            await send_reply(step.context, replies.REFERENCE_NOT_FOUND)
        except SchedulingUnavailable:
            await send_reply(step.context, replies.SCHEDULING_DOWN)
        return None

    async def action_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if step.result == GAVE_UP:
            await send_reply(step.context, replies.KEPT)
            return await step.end_dialog()
        reference = step.values.get(_OFFERED, {}).get(step.result, step.result)
        (appointment,) = [
            Appointment.from_json(a) for a in step.values[_FOUND] if a["reference"] == reference
        ]
        step.values[_FOUND] = [appointment.to_json()]
        text = step.values[TEXT]
        catalogue = await self._scheduling.catalogue()
        what, where, start = replies.describe_appointment(catalogue, appointment, customer_now(
            step.context.activity, self._clock))  # fmt: skip
        if _CANCEL_WORDS.search(text):
            return await step.next(replies.CANCEL_IT)
        if _MOVE_WORDS.search(text) or step.values[WHEN]:
            return await step.next(replies.MOVE_IT)
        details = replies.appointment_details(reference, what, where, start)
        return await step.prompt(_CHOICE_PROMPT, choice_options(step.context, details))

    async def act_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        (appointment,) = [Appointment.from_json(a) for a in step.values[_FOUND]]
        catalogue = await self._scheduling.catalogue()
        now = customer_now(step.context.activity, self._clock)
        what, _, start = replies.describe_appointment(catalogue, appointment, now)
        if step.result == replies.CANCEL_IT:
            return await step.prompt(
                _CONFIRM_PROMPT, prompt_options(step.context, replies.confirm_cancel(what, start))
            )
        if step.result == replies.MOVE_IT:
            booking = {
                "kind": appointment.slot.kind.value, "where": appointment.slot.where,
                "address": appointment.address, DEVICE: appointment.device,
                WHEN: step.values[WHEN], RESCHEDULE: appointment.reference,
            }  # fmt: skip
            return await step.replace_dialog(self._booking_id, {BOOKING: booking})
        await send_reply(step.context, replies.KEPT)
        return await step.end_dialog()

    async def cancel_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        (appointment,) = [Appointment.from_json(a) for a in step.values[_FOUND]]
        if step.result is not True:
            await send_reply(step.context, replies.KEPT)
            return await step.end_dialog()
        try:
            await self._scheduling.cancel(appointment.reference)
        except (SchedulingUnavailable, AppointmentNotFound):
            await send_reply(step.context, replies.SCHEDULING_DOWN)
            return await step.end_dialog()
        cancelled = replies.cancelled_appointment(appointment.reference)
        await send_answer(step.context, "changeAppointment", cancelled, change="cancelled")
        return await step.end_dialog()


async def _reference_validator(prompt: PromptValidatorContext) -> bool:
    if prompt.recognized.succeeded and _REFERENCE.search(prompt.recognized.value):
        return True
    if prompt.options.number_of_attempts + 1 >= 2:
        prompt.recognized.value = GAVE_UP
        return True
    return False
