"""Book an appointment: what, where, when, a free slot, a confirmation, a reference.

What the customer already said ("can someone come and mount my TV on Friday?") is used,
not asked again. The booking so far travels in the dialog's options (plain JSON), so
"another time" or a slot taken meanwhile restarts the waterfall without losing it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, time

from botbuilder.core import TurnContext
from botbuilder.dialogs import (
    ComponentDialog,
    DialogInstance,
    DialogReason,
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import PromptValidatorContext, TextPrompt

from channels import replies
from channels.calendar import CalendarEvent
from customers.context import Topic
from customers.directory import CRM_PREFIX, CustomerDirectory
from dialogs.clock import Clock, customer_now
from dialogs.feedback import send_answer
from dialogs.reply_activity import (
    choice_options,
    confirm_prompt,
    prompt_options,
    send_reply,
    understanding_language,
)
from dialogs.task_waterfall import TaskWaterfall
from nlu.entities import extract
from notifications.updates import Updates
from services.scheduling import (
    Appointment,
    AppointmentKind,
    AppointmentNotFound,
    BookingDetails,
    Catalogue,
    Place,
    SchedulingService,
    SchedulingUnavailable,
    Slot,
    SlotTaken,
)
from state.customer_context import CustomerContextAccessor, turn_customer_id

# Options a caller may pass: the customer's first message and what was recognised in it;
# BOOKING, a booking under way (with RESCHEDULE, the reference of the appointment it moves).
TEXT, WHEN, DEVICE = "text", "when", "device"
BOOKING, RESCHEDULE = "booking", "reschedule"
# After this many answers that fit no choice, offer a person instead of asking again.
MAX_TRIES = 3
SLOTS_OFFERED = 5
# A day without a time means around midday: slots either side are offered.
_DAY_ONLY = time(12, 0)

_CHOICE_PROMPT = "BookingDialog.choice"
_TEXT_PROMPT = "BookingDialog.text"
_WHEN_PROMPT = "BookingDialog.when"
_CONFIRM_PROMPT = "BookingDialog.confirm"
_BOOKING, _OFFERED = BOOKING, "offered"
_KNOWN_ADDRESS, _OTHER_ADDRESS = "knownAddress", "otherAddress"
# What a prompt answers once its tries are used up.
GAVE_UP = "\0gave up"

# The words that tell which kind is meant, most specific first, in each language the bot
# speaks (English; Spanish; German; French).
_KIND_WORDS = (
    (AppointmentKind.CALL_BACK, r"call (?:me )?back|callback|phone me|ring me|call me"
     r"|ll[aá]m[ae]me|que me llamen|devoluci[oó]n de llamada"
     r"|r[uü]ckruf|rufen sie mich|ruft mich"
     r"|rappel(?:ez|le)?[ -]moi|rappel t[eé]l[eé]phonique|qu.on me rappelle"),
    (AppointmentKind.HOME_INSTALLATION, r"install|mount|set ?up|fit(?:ted)?|hang"
     r"|instal|montar|colgar|montier|anschlie[sß]en|aufh[aä]ngen|fixer au mur"),
    (AppointmentKind.TECHNICIAN_VISIT, r"technician|engineer|visit|come (?:out|round|over|to)"
     r"|t[eé]cnico|techniker|technicien|vengan? a casa|vorbeikommen|passer [àa] la maison"),
    (AppointmentKind.IN_STORE_REPAIR, r"repair|fix|broken|cracked|in store|drop (?:it )?off"
     r"|repar|arregl|en tienda|roto|kaputt|im gesch[aä]ft|r[eé]par|en magasin|cass[eé]"),
)  # fmt: skip


def infer_kind(text: str) -> AppointmentKind | None:
    for kind, words in _KIND_WORDS:
        if re.search(rf"\b(?:{words})", text, re.IGNORECASE):
            return kind
    return None


class BookingDialog(ComponentDialog):
    def __init__(
        self,
        scheduling: SchedulingService,
        customer_contexts: CustomerContextAccessor,
        clock: Clock,
        directory: CustomerDirectory | None = None,
        updates: Updates | None = None,
    ) -> None:
        super().__init__(BookingDialog.__name__)
        # None: updates are off (no reminders).
        self._updates = updates
        self._scheduling = scheduling
        self._directory = directory
        self._customer_contexts = customer_contexts
        self._clock = clock
        self.add_dialog(
            TaskWaterfall(
                "bookAppointment",
                [
                    self.kind_step,
                    self.where_step,
                    self.when_step,
                    self.slots_step,
                    self.confirm_step,
                    self.book_step,
                ],
            )
        )
        self.add_dialog(TextPrompt(_CHOICE_PROMPT, one_of_offered))
        self.add_dialog(TextPrompt(_TEXT_PROMPT, _address_or_phone))
        self.add_dialog(TextPrompt(_WHEN_PROMPT, self._when_validator))
        self.add_dialog(confirm_prompt(_CONFIRM_PROMPT))
        self.initial_dialog_id = WaterfallDialog.__name__

    async def kind_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = dict(step.options or {})
        booking = options.get(_BOOKING) or {
            WHEN: options.get(WHEN), DEVICE: options.get(DEVICE),
            "kind": (kind := infer_kind(options.get(TEXT) or "")) and kind.value,
        }  # fmt: skip
        step.values[_BOOKING] = booking
        try:
            catalogue = await self._scheduling.catalogue()
        except SchedulingUnavailable:
            await send_reply(step.context, replies.SCHEDULING_DOWN)
            return await step.end_dialog()
        if booking.get("kind"):
            return await step.next(booking["kind"])
        labels = tuple(info.label for info in catalogue.kinds.values())
        return await self._choose(step, replies.ask_kind(labels))

    async def where_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        booking, catalogue = step.values[_BOOKING], await self._scheduling.catalogue()
        if step.result == GAVE_UP:
            return await self._offer_person(step)
        if not booking.get("kind"):
            chosen = step.result.lower()
            booking["kind"] = next(
                info.kind.value for info in catalogue.kinds.values() if info.label == chosen
            )
        kind = AppointmentKind(booking["kind"])
        place = catalogue.place_of(kind)
        if place == Place.STORE:
            if booking.get("where"):
                return await step.next(None)
            names = tuple(store.name for store in catalogue.stores.values())
            if len(names) == 1:
                booking["where"] = next(iter(catalogue.stores))
                return await step.next(None)
            return await self._choose(step, replies.ask_store(names))
        booking["where"] = place.value
        # A booking continued from another channel brings no address or phone: asked here.
        if booking.get("address" if place == Place.HOME else "phone"):
            return await step.next(None)
        known = await self._address_on_file(step) if place == Place.HOME else None
        if known and not booking.get(_OTHER_ADDRESS):
            step.values[_KNOWN_ADDRESS] = known
            return await self._choose(step, replies.use_address(known))
        await self._remember(step)
        ask = replies.ASK_ADDRESS if place == Place.HOME else replies.ASK_PHONE
        return await step.prompt(_TEXT_PROMPT, prompt_options(step.context, ask))

    async def when_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        booking, catalogue = step.values[_BOOKING], await self._scheduling.catalogue()
        if step.result == GAVE_UP:
            return await self._offer_person(step)
        if isinstance(step.result, str):
            if not booking.get("where"):
                booking["where"] = next(
                    s.id for s in catalogue.stores.values() if s.name.lower() == step.result.lower()
                )
            elif step.result == replies.ANOTHER_ADDRESS and _KNOWN_ADDRESS in step.values:
                booking[_OTHER_ADDRESS] = True
                return await step.replace_dialog(self.initial_dialog_id, {_BOOKING: booking})
            elif booking["where"] == Place.HOME.value:
                booking["address"] = step.result.strip()[:200]
            else:
                booking["phone"] = step.result.strip()[:40]
        if booking.get(WHEN):
            return await step.next(None)
        await self._remember(step)
        return await step.prompt(
            _WHEN_PROMPT,
            prompt_options(step.context, replies.ASK_WHEN, replies.WHEN_NOT_UNDERSTOOD),
        )

    async def slots_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        booking, catalogue = step.values[_BOOKING], await self._scheduling.catalogue()
        if step.result == GAVE_UP:
            return await self._offer_person(step)
        if isinstance(step.result, str):
            booking[WHEN] = self._when_in(step, step.result)
        now = customer_now(step.context.activity, self._clock)
        around = _moment(booking[WHEN], now)
        if around < now:
            await send_reply(step.context, replies.PAST_TIME)
            around = now
        kind = AppointmentKind(booking["kind"])
        try:
            slots = await self._scheduling.free_slots(kind, booking["where"], around, SLOTS_OFFERED)
        except SchedulingUnavailable:
            await send_reply(step.context, replies.SCHEDULING_DOWN)
            return await step.end_dialog()
        what, where = replies.what_and_where(catalogue, kind, booking["where"])
        if not slots:
            await send_reply(step.context, replies.no_free_slots(what))
            return await step.replace_dialog(
                self.initial_dialog_id, {_BOOKING: _without_when(booking)}
            )
        labels = {replies.describe_start(s.start, now): s.to_json() for s in slots}
        step.values[_OFFERED] = labels
        return await self._choose(step, replies.offer_slots(what, where, tuple(labels)))

    async def confirm_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        booking, catalogue = step.values[_BOOKING], await self._scheduling.catalogue()
        if step.result == GAVE_UP:
            return await self._offer_person(step)
        chosen = _match(step.result, step.values[_OFFERED])
        if chosen is None:  # "Another time"
            return await step.replace_dialog(
                self.initial_dialog_id, {_BOOKING: _without_when(booking)}
            )
        booking["slot"] = step.values[_OFFERED][chosen]
        kind = AppointmentKind(booking["kind"])
        what, where = replies.what_and_where(catalogue, kind, booking["where"])
        facts = tuple(
            (name, booking[key]) for key, name in replies.BOOKING_FACTS.items() if booking.get(key)
        )
        # The chosen time, written again in the turn's language (the label matched is English).
        now = customer_now(step.context.activity, self._clock)
        start = replies.describe_start(Slot.from_json(booking["slot"]).start, now)
        confirm = (
            replies.confirm_move(what, start)
            if booking.get(RESCHEDULE)
            else replies.confirm_booking(what, where, start, facts)
        )
        return await step.prompt(_CONFIRM_PROMPT, prompt_options(step.context, confirm))

    async def book_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        booking, catalogue = step.values[_BOOKING], await self._scheduling.catalogue()
        if step.result is not True:
            await send_reply(step.context, replies.NOT_BOOKED)
            return await step.end_dialog()
        slot = Slot.from_json(booking["slot"])
        notes = [booking.get("notes"), booking.get("phone") and f"Call {booking['phone']}"]
        details = BookingDetails(
            address=booking.get("address"), device=booking.get(DEVICE),
            notes="; ".join(n for n in notes if n) or None,
        )  # fmt: skip
        try:
            if booking.get(RESCHEDULE):
                appointment = await self._scheduling.reschedule(booking[RESCHEDULE], slot)
            else:
                customer_id = (
                    turn_customer_id(step.context) or step.context.activity.from_property.id
                )
                appointment = await self._scheduling.book(customer_id, slot, details)
        except AppointmentNotFound:
            await send_reply(step.context, replies.REFERENCE_NOT_FOUND)
            return await step.end_dialog()
        except SlotTaken:
            await send_reply(step.context, replies.SLOT_JUST_TAKEN)
            booking[WHEN] = slot.start.isoformat()
            return await step.replace_dialog(self.initial_dialog_id, {_BOOKING: booking})
        except SchedulingUnavailable:
            await send_reply(step.context, replies.SCHEDULING_DOWN)
            return await step.end_dialog()
        now = customer_now(step.context.activity, self._clock)
        what, where = replies.what_and_where(catalogue, slot.kind, slot.where)
        start = replies.describe_start(slot.start, now)
        done = replies.moved if booking.get(RESCHEDULE) else replies.booked
        event = CalendarEvent(
            appointment.reference, replies.calendar_title(what, appointment.reference),
            slot.start, slot.end, _location(catalogue, appointment),
        )  # fmt: skip
        # A move is the change-appointment task's answer; a booking is the booking's.
        task = "changeAppointment" if booking.get(RESCHEDULE) else "bookAppointment"
        answer = done(appointment.reference, what, where, start, event)
        if await self._remind(step, appointment, what, where, moved=bool(booking.get(RESCHEDULE))):
            answer = replies.with_reminder_note(answer)
        await send_answer(step.context, task, answer)
        return await step.end_dialog()

    async def _remind(
        self, step: WaterfallStepContext, appointment: Appointment, what: str, where: str,
        *, moved: bool,
    ) -> bool:  # fmt: skip
        """A new booking is followed by its reminder (unless the customer says "no
        reminder"); a moved one keeps its reminder, at the new time."""
        if self._updates is None:
            return False
        reference, channel, now = (
            appointment.reference,
            step.context.activity.channel_id,
            self._clock(),
        )
        if moved:
            context = await self._customer_contexts.get(step.context)
            if context.subscription(Topic.APPOINTMENT, reference) is None:
                return False
        else:
            await self._customer_contexts.update(
                step.context, lambda c: c.subscribe(Topic.APPOINTMENT, reference, now, channel)
            )
        customer_id = turn_customer_id(step.context) or appointment.customer_id
        return await self._updates.remind(
            customer_id, reference, appointment.slot.start, what, where
        )

    async def _choose(self, step: WaterfallStepContext, reply: replies.Reply) -> DialogTurnResult:
        await self._remember(step)
        return await step.prompt(_CHOICE_PROMPT, choice_options(step.context, reply))

    async def _remember(self, step: WaterfallStepContext) -> None:
        """The booking so far, open in the customer's context: another channel can offer to
        continue it. Never the address or the phone number (personal data)."""
        booking = step.values[_BOOKING]
        if booking.get(RESCHEDULE):
            return
        details = {key: booking.get(key) for key in ("kind", "where", WHEN, DEVICE, "notes")}
        channel, now = step.context.activity.channel_id, self._clock()
        await self._customer_contexts.update(
            step.context,
            lambda c: c.begin_task("bookAppointment", "booking", channel, now, details),
        )

    async def on_end_dialog(
        self, context: TurnContext, instance: DialogInstance, reason: DialogReason
    ) -> None:
        # However the booking ends (booked, declined, cancelled), it is no longer open.
        await self._customer_contexts.update(context, lambda c: c.end_task())
        await super().on_end_dialog(context, instance, reason)

    async def _address_on_file(self, step: WaterfallStepContext) -> str | None:
        """A directory customer's address (the company's CRM knows it); None otherwise."""
        customer_id = turn_customer_id(step.context) or ""
        if self._directory is None or not customer_id.startswith(CRM_PREFIX):
            return None
        found = await self._directory.find(crm_id=customer_id.removeprefix(CRM_PREFIX))
        return found.address if found else None

    async def _offer_person(self, step: WaterfallStepContext) -> DialogTurnResult:
        await send_reply(step.context, replies.OFFER_PERSON_INSTEAD)
        return await step.end_dialog()

    def _when_in(self, step: WaterfallStepContext, text: str) -> str | None:
        now = customer_now(step.context.activity, self._clock)
        zone = step.context.activity.local_timezone or None
        language = understanding_language(step.context)
        return extract(text, {}, now=now, time_zone=zone or _zone_name(now), language=language).when

    async def _when_validator(self, prompt: PromptValidatorContext) -> bool:
        if not prompt.recognized.succeeded:
            return False
        now = customer_now(prompt.context.activity, self._clock)
        zone = prompt.context.activity.local_timezone or _zone_name(now)
        language = understanding_language(prompt.context)
        if extract(prompt.recognized.value, {}, now=now, time_zone=zone, language=language).when:
            return True
        return _gave_up(prompt)


async def one_of_offered(prompt: PromptValidatorContext) -> bool:
    chosen = _match(prompt.recognized.value, prompt.options.validations or [])
    if prompt.recognized.succeeded and chosen is not None:
        prompt.recognized.value = chosen
        return True
    return _gave_up(prompt)


async def _address_or_phone(prompt: PromptValidatorContext) -> bool:
    # An address has a house number or a postcode, a phone number digits: a question
    # ("when is my appointment?") is neither.
    said = prompt.recognized.value.strip() if prompt.recognized.succeeded else ""
    if len(said) >= 6 and re.search(r"\d", said) and "?" not in said:
        return True
    return _gave_up(prompt)


def _gave_up(prompt: PromptValidatorContext) -> bool:
    # number_of_attempts counts the failed answers before this one.
    if prompt.options.number_of_attempts + 1 >= MAX_TRIES:
        prompt.recognized.value = GAVE_UP
        return True
    return False


def _match(answer: str | None, offered: Iterable[str]) -> str | None:
    said = (answer or "").strip().lower()
    return next((choice for choice in offered if choice.lower() == said), None)


def _moment(when: str, now: datetime) -> datetime:
    moment = datetime.fromisoformat(when)
    if "T" not in when:
        moment = datetime.combine(moment.date(), _DAY_ONLY)
    return moment.replace(tzinfo=now.tzinfo) if moment.tzinfo is None else moment


def _zone_name(now: datetime) -> str:
    return getattr(now.tzinfo, "key", None) or "UTC"


def _without_when(booking: dict) -> dict:
    return {key: value for key, value in booking.items() if key not in (WHEN, "slot")}


def _location(catalogue: Catalogue, appointment: Appointment) -> str | None:
    store = catalogue.stores.get(appointment.slot.where)
    return f"{store.name}, {store.address}" if store else appointment.address
