"""Talking to a person: a case in the agents' queue, or, when nobody can take it, a note.

Asked for a person, the customer is put in the queue and told their place and the
wait (the relay in bots/handoff_relay.py carries the conversation from then on).
Outside business hours, with no desk, or after nobody took the case in time, the
customer is offered to leave a note: how to reach them (the contacts on file
offered) and a few words, kept as a ticket whose reference they are given.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from botbuilder.core import StatePropertyAccessor, TurnContext
from botbuilder.dialogs import (
    ComponentDialog,
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import PromptValidatorContext, TextPrompt

from analytics.events import EventName
from channels import replies
from customers.directory import CRM_PREFIX, CustomerDirectory
from dialogs.booking_dialog import GAVE_UP, one_of_offered
from dialogs.clock import Clock
from dialogs.reply_activity import (
    FOR_AGENT,
    LANGUAGE,
    choice_options,
    conversation_ref,
    prompt_options,
    send_reply,
)
from dialogs.turn_events import ANALYTICS_ID, record
from handoff.cases import TRANSCRIPT_TEXT_LIMIT, Reason, TranscriptLine
from handoff.service import HandoffService, Queued, Unavailable, case_key
from nlu.entities import find_email, find_phone
from nlu.language import language_name
from services.orders import OrderService
from services.scheduling import AppointmentStatus, SchedulingService
from services.tickets import MAX_NOTE_CHARS, Ticket, TicketService, new_reference, ticket_key
from state.customer_context import CustomerContextAccessor, turn_customer_id
from state.documents import StorageError

log = logging.getLogger(__name__)

# Options: why a person is wanted (a Reason); FOLLOW_UP, straight to the note, with why
# nobody could take it (WHY_NO_PERSON) and the case it follows (CASE).
REASON, FOLLOW_UP, WHY_NO_PERSON, CASE = "reason", "followUp", "whyNoPerson", "case"
# turn_state key: the choices the bot's previous reply offered (a person offered after
# answers it could not use means the reason is failed tries).
OFFERED_BEFORE = "offeredBefore"
# What the agent is told is looked up within this long, or left out.
FACT_LOOKUP_TIMEOUT = 2.0

_CHOICE_PROMPT = "HandoffDialog.choice"
_CONTACT_PROMPT = "HandoffDialog.contact"
_NOTE_PROMPT = "HandoffDialog.note"
_CHANNEL_NAMES = {"msteams": "Teams", "webchat": "Web Chat", "directline": "Web Chat",
                  "facebook": "Messenger", "emulator": "Emulator"}  # fmt: skip


class HandoffDialog(ComponentDialog):
    def __init__(
        self,
        handoff: HandoffService,
        tickets: TicketService,
        customer_contexts: CustomerContextAccessor,
        handoff_case: StatePropertyAccessor,
        transcript: StatePropertyAccessor,
        clock: Clock,
        *,
        orders: OrderService | None = None,
        scheduling: SchedulingService | None = None,
        directory: CustomerDirectory | None = None,
    ) -> None:
        super().__init__(HandoffDialog.__name__)
        self._handoff = handoff
        self._tickets = tickets
        self._customer_contexts = customer_contexts
        self._handoff_case = handoff_case
        self._transcript = transcript
        self._clock = clock
        self._orders = orders
        self._scheduling = scheduling
        self._directory = directory
        self.add_dialog(
            WaterfallDialog(
                WaterfallDialog.__name__,
                [self.request_step, self.offer_step, self.contact_step, self.note_step],
            )
        )
        self.add_dialog(TextPrompt(_CHOICE_PROMPT, one_of_offered))
        self.add_dialog(TextPrompt(_CONTACT_PROMPT, _contact_validator))
        self.add_dialog(TextPrompt(_NOTE_PROMPT, _note_validator))
        self.initial_dialog_id = WaterfallDialog.__name__

    async def request_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = step.options or {}
        step.values[REASON] = options.get(REASON) or _reason(step.context)
        if options.get(FOLLOW_UP):
            step.values[WHY_NO_PERSON] = options.get(WHY_NO_PERSON, "timedOut")
            step.values[CASE] = options.get(CASE)
            return await step.next(replies.LEAVE_A_NOTE)
        now = self._clock()
        await self._customer_contexts.update(step.context, lambda c: c.request_handoff(now))
        record(step.context, EventName.HANDOFF_REQUESTED, reason=step.values[REASON])
        outcome = await self._handoff.request(
            customer_id=turn_customer_id(step.context) or "",
            analytics_id=step.context.turn_state.get(ANALYTICS_ID),
            customer_name=getattr(step.context.activity.from_property, "name", None),
            reason=Reason(step.values[REASON]),
            customer=conversation_ref(step.context.activity),
            facts=await self._facts(step.context),
            transcript=await self._recent_messages(step.context, now),
            language=step.context.turn_state.get(LANGUAGE),
        )  # fmt: skip
        if isinstance(outcome, Queued):
            await self._handoff_case.set(step.context, outcome.case.id)
            key = case_key(outcome.case.id)
            await self._customer_contexts.update(step.context, lambda c: c.keep_handoff_record(key))
            await send_reply(step.context, replies.queued(outcome.position, outcome.wait_minutes))
            return await step.end_dialog()
        step.values[WHY_NO_PERSON] = outcome.value
        offer = (
            replies.outside_hours(str(self._handoff.hours))
            if outcome == Unavailable.CLOSED
            else replies.TEAM_UNREACHABLE
        )
        return await step.prompt(_CHOICE_PROMPT, choice_options(step.context, offer))

    async def offer_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if step.result != replies.LEAVE_A_NOTE:
            await send_reply(step.context, replies.NO_NOTE)
            return await step.end_dialog()
        known = await self._known_contacts(step.context)
        return await step.prompt(
            _CONTACT_PROMPT, prompt_options(step.context, replies.ask_contact(known),
                                            replies.CONTACT_NOT_UNDERSTOOD),
        )  # fmt: skip

    async def contact_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if step.result == GAVE_UP:
            await send_reply(step.context, replies.NO_NOTE)
            return await step.end_dialog()
        step.values["contact"] = step.result
        return await step.prompt(_NOTE_PROMPT, prompt_options(step.context, replies.ASK_NOTE))

    async def note_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        ticket = Ticket(
            reference=new_reference(),
            customer_id=turn_customer_id(step.context) or "",
            channel=step.context.activity.channel_id,
            contact=step.values["contact"],
            note=str(step.result)[:MAX_NOTE_CHARS],
            reason=step.values[REASON],
            why_no_person=step.values[WHY_NO_PERSON],
            created_at=self._clock(),
            case_id=step.values.get(CASE),
        )
        try:
            await self._tickets.create(ticket)
        except StorageError as error:
            log.warning("a ticket could not be kept: %s", error)
            await send_reply(step.context, replies.TICKET_FAILED)
            return await step.end_dialog()
        record(step.context, EventName.TICKET_CREATED, whyNoPerson=ticket.why_no_person)
        key = ticket_key(ticket.reference)
        await self._customer_contexts.update(step.context, lambda c: c.keep_handoff_record(key))
        if ticket.case_id:
            await self._handoff.record_ticket(ticket.case_id, ticket.reference)
        await send_reply(step.context, replies.ticket_created(ticket.reference, ticket.contact))
        return await step.end_dialog()

    async def _recent_messages(
        self, turn_context: TurnContext, now: datetime
    ) -> list[TranscriptLine]:
        """The conversation so far, with the message that asked for a person (the turn's
        own messages are kept only when it ends)."""
        kept = [TranscriptLine.model_validate(line)
                for line in await self._transcript.get(turn_context, list)]  # fmt: skip
        asked = turn_context.turn_state.get(FOR_AGENT) or turn_context.activity.text or ""
        asked = asked.strip()
        if asked:
            line = TranscriptLine(sender="customer", text=asked[:TRANSCRIPT_TEXT_LIMIT], at=now)
            kept.append(line)
        return kept

    async def _known_contacts(self, turn_context: TurnContext) -> tuple[str, ...]:
        customer_id = turn_customer_id(turn_context) or ""
        if self._directory is None or not customer_id.startswith(CRM_PREFIX):
            return ()
        found = await self._directory.find(crm_id=customer_id.removeprefix(CRM_PREFIX))
        return tuple(c for c in (found.email, found.phone) if c) if found else ()

    async def _facts(self, turn_context: TurnContext) -> list[tuple[str, str]]:
        """What the bot knows that the agent would otherwise ask for."""
        context = await self._customer_contexts.get(turn_context)
        channel = turn_context.activity.channel_id
        facts = [("Channel", _CHANNEL_NAMES.get(channel, channel))]
        if context.preferences.language:
            language = context.preferences.language
            facts.append(("Language", language_name(language)))
        if context.last_order_number:
            facts.append(("Last order", await self._order_fact(context.last_order_number)))
        if context.troubleshooting:
            walk = context.troubleshooting[-1]
            tried = ", ".join(walk.tried) or "nothing yet"
            facts.append(("Troubleshooting", f"{walk.device}: tried {tried}; {walk.outcome}"))
        appointment = await self._appointment_fact(turn_customer_id(turn_context) or "")
        if appointment:
            facts.append(("Appointment", appointment))
        return facts

    async def _order_fact(self, order_number: str) -> str:
        if self._orders is None:
            return order_number
        try:
            async with asyncio.timeout(FACT_LOOKUP_TIMEOUT):
                order = await self._orders.get_order(order_number)
        except Exception as error:  # a fact for the agent never fails the request
            log.info("order status for the agent unavailable: %s", type(error).__name__)
            return order_number
        return f"{order_number}: {order.status}"

    async def _appointment_fact(self, customer_id: str) -> str | None:
        if self._scheduling is None or not customer_id:
            return None
        try:
            async with asyncio.timeout(FACT_LOOKUP_TIMEOUT):
                appointments = await self._scheduling.list_for_customer(customer_id)
        except Exception as error:  # as above
            log.info("appointments for the agent unavailable: %s", type(error).__name__)
            return None
        now = self._clock()
        upcoming = [a for a in appointments
                    if a.status == AppointmentStatus.BOOKED and a.slot.start >= now]  # fmt: skip
        if not upcoming:
            return None
        first = min(upcoming, key=lambda a: a.slot.start)
        return f"{first.reference}, {first.kind} at {first.slot.start:%Y-%m-%d %H:%M %Z}"


def _reason(turn_context: TurnContext) -> str:
    offered = tuple(turn_context.turn_state.get(OFFERED_BEFORE) or ())
    if offered == replies.OFFER_PERSON_INSTEAD.choices:
        return Reason.FAILED_TRIES.value
    return Reason.ASKED.value


async def _contact_validator(prompt: PromptValidatorContext) -> bool:
    said = prompt.recognized.value.strip() if prompt.recognized.succeeded else ""
    contact = find_email(said) or find_phone(said)
    if contact:
        prompt.recognized.value = contact
        return True
    if prompt.options.number_of_attempts + 1 >= 3:
        prompt.recognized.value = GAVE_UP
        return True
    return False


async def _note_validator(prompt: PromptValidatorContext) -> bool:
    return prompt.recognized.succeeded and bool(prompt.recognized.value.strip())
