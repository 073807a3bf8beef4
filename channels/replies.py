"""What the bot says: channel-neutral replies (text and the choices offered).

Plain Python. Dialogs pick a reply; rendering it for a channel, in the turn's language,
happens at the edge. Every word a customer reads is a message of the catalog (`_`, from
channels/text.py); its English is the message itself.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime

from channels.calendar import CalendarEvent
from channels.text import Moment, Text, _, _n, date_text, known, localize
from services.orders import ORDER_NUMBER_MAX_DIGITS, ORDER_NUMBER_MIN_DIGITS, Order
from services.scheduling import Appointment, AppointmentKind, Catalogue, Place


@dataclass(frozen=True)
class Card:
    """A structured answer: a title and facts (an order, its status, its ETA)."""

    title: str
    facts: tuple[tuple[str, str], ...] = ()
    text: str | None = None
    image_url: str | None = None

    def fallback_text(self) -> str:
        return "\n".join([self.title, *(f"{name}: {value}" for name, value in self.facts)])


@dataclass(frozen=True)
class Reply:
    # Always complete on its own: channels that cannot show the card or the choices show this.
    text: str
    choices: tuple[str, ...] = field(default=())
    card: Card | None = None
    # An "Add to calendar" file, where the channel can take one.
    calendar: CalendarEvent | None = None
    # A day picker, where the channel has one (Adaptive Cards): its button's label.
    pick_day: str | None = None
    # An answer that closes a task: the customer is asked whether it helped (Teams' own
    # feedback buttons, or HELPFUL / NOT_HELPFUL as choices elsewhere).
    feedback: bool = False
    # What the customer may do next about this answer ("Keep me posted"), shown before
    # the feedback choices; unlike `choices`, nothing waits for an answer.
    follow_ups: tuple[str, ...] = field(default=())


def in_language(reply: Reply, language: str | None) -> Reply:
    """The reply with every word in `language`: its text, choices, card and calendar entry."""
    if language in (None, "en"):
        return reply
    card = reply.card and replace(
        reply.card,
        title=localize(reply.card.title, language),
        facts=tuple(
            (localize(name, language), localize(value, language))
            for name, value in reply.card.facts
        ),
        text=reply.card.text and localize(reply.card.text, language),
    )
    calendar = reply.calendar and replace(
        reply.calendar, title=localize(reply.calendar.title, language)
    )
    return replace(
        reply,
        text=localize(reply.text, language),
        choices=tuple(localize(choice, language) for choice in reply.choices),
        card=card,
        calendar=calendar,
        pick_day=reply.pick_day and localize(reply.pick_day, language),
        follow_ups=tuple(localize(follow_up, language) for follow_up in reply.follow_ups),
    )


def picked_choice(text: str, offered: list[str], shown: list[str]) -> str:
    """The offered choice (as the dialogs know it, in English) the customer tapped or typed
    in their language ("Sí", "si" -> "Yes"); otherwise the text as it is."""
    said = _plain(text)
    for choice, label in zip(offered, shown, strict=False):
        if text.strip().lower() == choice.lower():
            return text  # the choice itself, as typed
        if said and said in (_plain(label), _plain(choice)):
            return choice
    return text


def _plain(text: str) -> str:
    """Without case, accents or punctuation: "¡Sí!" and "si" are the same answer."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if c.isalnum() or c.isspace()).split())


YES_NO = (_("Yes"), _("No"))
NO_THANKS = _("No thanks")


ASK_ABOUT_ORDER = _("Where is my order?")
ASK_TO_BOOK = _("Book an appointment")
ASK_TO_FIX = _("Fix a device problem")
ASK_FOR_HELP = _("Help")
ASK_FOR_PERSON = _("Talk to a person")
# The three tasks, help and a person (each fits Messenger's 20-character quick replies).
_MAIN_CHOICES = (ASK_ABOUT_ORDER, ASK_TO_BOOK, ASK_TO_FIX, ASK_FOR_HELP, ASK_FOR_PERSON)

WELCOME = Reply(
    _(
        "Hi, I'm the customer service assistant. I can tell you where your order is, book or "
        'change an appointment, explain what I can do (type "help"), or put you in touch with '
        'a person (type "agent").'
    ),
    _MAIN_CHOICES,
)
HELP = Reply(
    _(
        "Here is what I can do:\n"
        '- Order status: ask "Where is my order?" or send your order number.\n'
        "- Appointments: book an in-store repair, a home installation, a technician visit or a "
        'call back ("book a repair on Friday"), or check, move or cancel one.\n'
        '- A person: type "agent" and I will pass you to our team.\n'
        '- Start over: type "cancel" at any time.'
    ),
    _MAIN_CHOICES,
)
NOT_UNDERSTOOD = Reply(
    _(
        "Sorry, I didn't catch that. I can check an order's status, book or change an "
        "appointment, or put you in touch with a person."
    ),
    _MAIN_CHOICES,
)
# An upset customer, before anything else (once per task).
FRUSTRATION_OFFER = Reply(
    _("I'm sorry this has been frustrating. Would you like to talk to a person?"),
    (ASK_FOR_PERSON, NO_THANKS),
)
NOT_UNDERSTOOD_AGAIN = Reply(
    _("Sorry, I still didn't understand. Would you like to talk to a person?"),
    (ASK_FOR_PERSON, ASK_FOR_HELP),
)
# After three answers that fit no choice: a person is offered rather than the question again.
OFFER_PERSON_INSTEAD = Reply(
    _("Sorry, I'm not getting this right. Would you like to talk to a person?"),
    (ASK_FOR_PERSON, ASK_FOR_HELP),
)
NOT_WHAT_YOU_MEANT = Reply(
    _(
        "Sorry about that. Could you say it another way? I've noted it so I can learn. "
        'Or type "agent" to talk to a person.'
    ),
    _MAIN_CHOICES,
)
GOODBYE = Reply(_("Goodbye, and thanks for getting in touch!"))
YOU_ARE_WELCOME = Reply(_("You're welcome! Anything else I can do?"), _MAIN_CHOICES)

# What each task is called when the bot asks which one the customer meant, and its choice.
TASK_NAMES = {
    "orderStatus": (_("check an order"), _("Check an order")),
    "bookAppointment": (_("book an appointment"), ASK_TO_BOOK),
    "changeAppointment": (_("change an appointment"), _("Change an appointment")),
    "troubleshoot": (_("fix a problem with a device"), ASK_TO_FIX),
    "humanHandoff": (_("talk to a person"), ASK_FOR_PERSON),
    "linkChannel": (_("link another channel"), _("Link another channel")),
    "deleteData": (_("delete your data"), _("Delete my data")),
    "stopUpdates": (_("stop updates"), _("Stop updates")),
}


def which_task(first: str, second: str) -> Reply:
    (one, one_choice), (other, other_choice) = TASK_NAMES[first], TASK_NAMES[second]
    return Reply(
        _("Do you want to {one}, or {other}?", one=one, other=other), (one_choice, other_choice)
    )


CANCELLED = Reply(_("Okay, I've stopped that. What else can I do for you?"), _MAIN_CHOICES)
NOTHING_TO_CANCEL = Reply(_("There's nothing to cancel. What can I do for you?"), _MAIN_CHOICES)
NO_TEXT = Reply(
    _(
        "I can only read typed messages for now. Type your order number, "
        '"help", or "agent" to talk to a person.'
    )
)
# Sent in English on purpose: what the customer reads when Translator fails.
CANNOT_TRANSLATE = Reply(_("Sorry, I can't translate right now, so I'm answering in English."))
TURN_FAILED = Reply(_("Sorry, something went wrong on my side. Please send your message again."))


def language_switched(language_name: Text) -> Reply:
    """The customer asked for another language: said in that language."""
    return Reply(
        _("Okay, let's continue in {language}. What can I do for you?", language=language_name),
        _MAIN_CHOICES,
    )


def language_continued(language_name: Text) -> Reply:
    """The same, in the middle of a task: its last question still waits for an answer."""
    return Reply(_("Okay, let's continue in {language}.", language=language_name))


LANGUAGE_NAMES = {
    "en": _("English"),
    "es": _("Spanish"),
    "de": _("German"),
    "fr": _("French"),
}

ASK_ORDER_NUMBER = Reply(_("Can you provide your order number?"))
ORDER_NUMBER_FORMAT = Reply(
    _(
        "That doesn't look like an order number: it has {fewest} to {most} digits, for "
        "example 123456 or #123-456. What is your order number?",
        fewest=ORDER_NUMBER_MIN_DIGITS,
        most=ORDER_NUMBER_MAX_DIGITS,
    )
)
OFFER_PERSON_AFTER_TRIES = Reply(
    _("I still can't find an order number in that. Would you like to talk to a person instead?"),
    YES_NO,
)
NOT_TRYING_AGAIN = Reply(
    _('No problem. Ask "Where is my order?" whenever you have the number at hand.'),
    _MAIN_CHOICES,
)
ORDER_SYSTEM_DOWN = Reply(
    _(
        "Sorry, I can't reach our order system right now. Please try again in a few minutes, "
        'or type "agent" to talk to a person.'
    )
)


def offer_recent_order(order_number: str) -> Reply:
    return Reply(_("Is this about order {order}?", order=order_number), YES_NO)


ORDER_LOOKUPS_PAUSED = Reply(
    _(
        "I couldn't find several of the order numbers given here, so for everyone's privacy "
        'I\'ve paused order lookups for an hour. Type "agent" to talk to a person.'
    )
)
ASK_ORDER_PROOF = Reply(
    _("To keep orders private: what's the email address or postcode on the order?")
)
ORDER_PROOF_REFUSED = Reply(
    _(
        "Sorry, that doesn't match the order, so I can't share its details here. "
        'Type "agent" to talk to a person.'
    )
)


def order_not_found(order_number: str) -> Reply:
    return Reply(
        _(
            "I couldn't find an order with the number {order}. "
            "Would you like to try another number?",
            order=order_number,
        ),
        YES_NO,
    )


def order_status(order: Order, now: datetime) -> Reply:
    """ "Your order 123456 is out for delivery and expected by 6 PM today." """
    status = known(order.status.rstrip(" ."))
    facts: list[tuple[str, str]] = [(_("Status"), status)]
    if order.eta is None:
        text = _("Your order {order} is {status}.", order=order.order_number, status=status)
    else:
        text = _(
            "Your order {order} is {status} and {eta}.",
            order=order.order_number,
            status=status,
            eta=describe_eta(order.eta, now),
        )
        facts.append((_("Expected"), eta_moment(order.eta, now)))
    card = Card(_("Order {order}", order=order.order_number), tuple(facts))
    return Reply(text, card=card)


def describe_eta(eta: datetime, now: datetime) -> Text:
    """The ETA in words, in the customer's time zone (the one `now` carries)."""
    when = eta_moment(eta, now)
    if eta.astimezone(now.tzinfo) < now:
        return _("was expected by {when}", when=when)
    return _("expected by {when}", when=when)


def eta_moment(eta: datetime, now: datetime) -> Text:
    """ "6 PM today", "8 AM on Friday": when an order is expected, from `now`."""
    local = eta.astimezone(now.tzinfo)
    # TRANSLATORS: Unicode date patterns (LDML): an hour on the hour, and with its minutes.
    time = Moment(local, _("h a") if local.minute == 0 else _("h:mm a"))
    days = (local.date() - now.date()).days
    if days == 0:
        return _("{time} today", time=time)
    if days == 1:
        return _("{time} tomorrow", time=time)
    if days == -1:
        return _("{time} yesterday", time=time)
    if 1 < days < 7:
        day = Moment(local, _("EEEE"))
    elif local.year == now.year:
        day = Moment(local, _("EEEE d MMMM"))
    else:
        day = Moment(local, _("EEEE d MMMM y"))
    return _("{time} on {day}", time=time, day=day)


# --- one customer across channels --------------------------------------------

# Where the customer was, as said in "Welcome back! On web chat you were ...".
CHANNEL_PLACES = {
    "webchat": _("on web chat"),
    "directline": _("on web chat"),
    "msteams": _("on Teams"),
    "facebook": _("on Messenger"),
    "emulator": _("in the Emulator"),
    "sms": _("by SMS"),
}


def channel_place(channel_id: str) -> Text:
    return CHANNEL_PLACES.get(channel_id) or _("on {channel}", channel=channel_id)


def link_code_issued(code: str, minutes: int) -> Reply:
    return Reply(
        _(
            "Your link code is {code}. On your other channel, send: link {code}\n"
            "It works once, for {minutes} minutes.",
            code=code,
            minutes=minutes,
        )
    )


LINKED = Reply(_("Done: your accounts are linked, and I'll recognise you on each of them."))
ALREADY_LINKED = Reply(_("This account is already linked with that one."))
LINK_CODE_REFUSED = Reply(
    _(
        "That code didn't work: it may be mistyped, used or expired. "
        'Ask for a new one with "link another channel" where you are already known.'
    )
)
LINK_TOO_MANY_TRIES = Reply(
    _("Too many wrong codes from this account. Please try again in an hour.")
)
LINKING_PAUSED = Reply(
    _(
        "Linking accounts is paused for a moment because of unusual activity. "
        "Please try again in a few minutes."
    )
)
UNLINKED = Reply(
    _("This account is no longer linked with your other channels. Here, we start afresh.")
)


def resume_offer(channel_id: str, order_number: str | None) -> Reply:
    where = channel_place(channel_id).capitalized()
    if order_number:
        return Reply(
            _(
                "Welcome back! {where} you were checking order {order}. Want the latest status?",
                where=where,
                order=order_number,
            ),
            YES_NO,
        )
    return Reply(
        _("Welcome back! {where} you were checking an order. Want to continue?", where=where),
        YES_NO,
    )


# The demo scheduling system's kinds of appointment, with their article ("book an in-store
# repair"); a kind the catalog does not know is named as the scheduling system names it.
KIND_NAMES = {
    "in-store repair": _("an in-store repair"),
    "home installation": _("a home installation"),
    "technician visit": _("a technician visit"),
    "phone call back": _("a phone call back"),
}


# The same, by the kind's code (what a booking under way keeps).
_KIND_BY_CODE = {
    "inStoreRepair": KIND_NAMES["in-store repair"],
    "homeInstallation": KIND_NAMES["home installation"],
    "technicianVisit": KIND_NAMES["technician visit"],
    "callBack": KIND_NAMES["phone call back"],
}


def a_kind(label: str) -> Text:
    """ "an in-store repair": a kind of appointment with its article."""
    if label in KIND_NAMES:
        return KIND_NAMES[label]
    if label[:1].lower() in "aeiou":
        return _("an {kind}", kind=known(label))
    return _("a {kind}", kind=known(label))


def resume_booking(channel_id: str, kind: str | None, when: str | None) -> Reply:
    """ "Welcome back! On web chat you were booking a home installation for Fri 27 Nov." """
    what = _KIND_BY_CODE.get(kind or "") or _("an appointment")
    where = channel_place(channel_id).capitalized()
    if not when:
        return Reply(
            _(
                "Welcome back! {where} you were booking {what}. Want to continue?",
                where=where,
                what=what,
            ),
            YES_NO,
        )
    moment = datetime.fromisoformat(when)
    day = Moment(moment, _START_PATTERN if "T" in when else _("EEE d MMM"))
    return Reply(
        _(
            "Welcome back! {where} you were booking {what} for {day}. Want to continue?",
            where=where,
            what=what,
            day=day,
        ),
        YES_NO,
    )


NOT_RESUMING = Reply(_("Okay. What can I do for you?"), _MAIN_CHOICES)
CONFIRM_DELETE = Reply(
    _(
        "This deletes everything I know about you, on every channel: the orders you asked "
        "about, linked accounts and our conversations. Delete it all?"
    ),
    YES_NO,
)
DATA_DELETED = Reply(
    _(
        "Done: I've deleted everything I knew about you. If you write again, "
        "I'll greet you as a new customer."
    )
)
NOT_DELETED = Reply(_("Okay, nothing was deleted."), _MAIN_CHOICES)


# --- appointments -------------------------------------------------------------

ANOTHER_TIME = _("Another time")


def ask_kind(labels: tuple[str, ...]) -> Reply:
    return Reply(
        _("What would you like to book?"), tuple(known(label).capitalized() for label in labels)
    )


def ask_store(names: tuple[str, ...]) -> Reply:
    return Reply(_("Which store suits you?"), names)


ASK_ADDRESS = Reply(_("What's the address for the visit? (street, town and postcode)"))
ANOTHER_ADDRESS = _("Another address")


def use_address(address: str) -> Reply:
    return Reply(_("Shall we come to the address we have for you?"), (address, ANOTHER_ADDRESS))


ASK_PHONE = Reply(_("Which phone number should we call you on?"))
PICK_DAY = _("Pick this day")
ASK_WHEN = Reply(
    _('When suits you? For example "Friday afternoon" or "tomorrow at 3pm".'), pick_day=PICK_DAY
)
WHEN_NOT_UNDERSTOOD = Reply(
    _(
        'Sorry, I didn\'t get a day or time from that. Try "Monday morning", "the 12th" or '
        '"tomorrow at 3pm".'
    )
)
PAST_TIME = Reply(_("That time has already passed, so here are the nearest times from now."))
SCHEDULING_DOWN = Reply(
    _(
        "Sorry, I can't reach our booking system right now. Please try again in a few "
        'minutes, or type "agent" to talk to a person.'
    )
)
NOT_BOOKED = Reply(_("Okay, I haven't booked anything. What else can I do for you?"), _MAIN_CHOICES)
SLOT_JUST_TAKEN = Reply(_("Sorry, someone has just booked that time."))


def at_store(name: str) -> Text:
    return _("at {store}", store=name)


AT_HOME, BY_PHONE = _("at your home"), _("by phone")


def _place(where: str) -> str:
    """Where, as a card's fact: "Oxford Street", "your home", "by phone"."""
    if isinstance(where, Text) and where.msgid == at_store("").msgid:
        return str(where.args["store"])
    return _("your home") if where == AT_HOME else where


# TRANSLATORS: a Unicode date pattern (LDML). Keep it short: it is a button's label.
_START_PATTERN = _("EEE d MMM, h:mm a")


# What else a booking's card shows, by the booking's key.
BOOKING_FACTS = {"address": _("Address"), "phone": _("Phone"), "device": _("Device")}


def describe_start(start: datetime, now: datetime) -> Text:
    """ "Fri 27 Nov, 2:30 PM" in the customer's time zone (the one `now` carries)."""
    return date_text(start.astimezone(now.tzinfo), _START_PATTERN)


def what_and_where(catalogue: Catalogue, kind: AppointmentKind, where: str) -> tuple[str, Text]:
    """What kind ("in-store repair", as the scheduling system names it) and where ("at
    Oxford Street")."""
    what = catalogue.kinds[kind].label
    if where in catalogue.stores:
        return what, at_store(catalogue.stores[where].name)
    return what, AT_HOME if where == Place.HOME.value else BY_PHONE


def describe_appointment(
    catalogue: Catalogue, appointment: Appointment, now: datetime
) -> tuple[str, Text, Text]:
    """What, where and when ("Fri 27 Nov, 2:00 PM", in the zone `now` carries)."""
    what, where = what_and_where(catalogue, appointment.slot.kind, appointment.slot.where)
    return what, where, describe_start(appointment.slot.start, now)


def offer_slots(what: str, where: str, starts: tuple[str, ...]) -> Reply:
    return Reply(
        _(
            "Here are the nearest free times for {what} {where}. Which one suits you?",
            what=a_kind(what),
            where=where,
        ),
        (*starts, ANOTHER_TIME),
    )


def no_free_slots(what: str) -> Reply:
    return Reply(
        _("There's no free time for {what} near then. When else would suit you?", what=a_kind(what))
    )


def _facts(what: str, start: str, where: str | None = None) -> tuple[tuple[str, str], ...]:
    facts = ((_("What"), known(what).capitalized()), (_("When"), start))
    return facts if where is None else (*facts, (_("Where"), _place(where)))


def confirm_booking(what: str, where: str, start: str, facts: tuple[tuple[str, str], ...]) -> Reply:
    return Reply(
        _("Shall I book {what} {where} on {start}?", what=a_kind(what), where=where, start=start),
        YES_NO,
        Card(_("Your booking"), (*_facts(what, start), *facts)),
    )


def booked(
    reference: str, what: str, where: str, start: str, event: CalendarEvent | None = None
) -> Reply:
    return Reply(
        _(
            "Booked: {what} {where} on {start}. Your reference is {reference}.",
            what=a_kind(what),
            where=where,
            start=start,
            reference=reference,
        ),
        card=Card(_("Booked: {reference}", reference=reference), _facts(what, start, where)),
        calendar=event,
    )


MOVE_IT, CANCEL_IT, KEEP_IT = _("Move it"), _("Cancel it"), _("Keep it")
ASK_REFERENCE = Reply(
    _(
        "I can't find an appointment for you here. What's your booking reference? "
        "It looks like AP-7KQ2XM."
    )
)
REFERENCE_NOT_FOUND = Reply(
    _('I couldn\'t find a booking with that reference. Type "agent" and a person can look it up.')
)
KEPT = Reply(_("Okay, I've left it as it is. What else can I do for you?"), _MAIN_CHOICES)


def which_appointment(descriptions: tuple[str, ...]) -> Reply:
    return Reply(_("You have more than one appointment. Which one is it about?"), descriptions)


def appointment_choice(what: str, start: str) -> Text:
    """An appointment as a choice: "In-store repair, Fri 27 Nov, 2:00 PM"."""
    return _("{what}, {start}", what=known(what).capitalized(), start=start)


def appointment_details(reference: str, what: str, where: str, start: str) -> Reply:
    return Reply(
        _(
            "Your {what} {where} is on {start} (reference {reference}). "
            "Would you like to move it or cancel it?",
            what=known(what),
            where=where,
            start=start,
            reference=reference,
        ),
        (MOVE_IT, CANCEL_IT, KEEP_IT),
        Card(_("Appointment {reference}", reference=reference), _facts(what, start, where)),
    )


def confirm_cancel(what: str, start: str) -> Reply:
    return Reply(_("Cancel your {what} on {start}?", what=known(what), start=start), YES_NO)


def cancelled_appointment(reference: str) -> Reply:
    return Reply(
        _(
            "Done: appointment {reference} is cancelled. What else can I do for you?",
            reference=reference,
        ),
        _MAIN_CHOICES,
    )


def confirm_move(what: str, start: str) -> Reply:
    return Reply(_("Shall I move your {what} to {start}?", what=known(what), start=start), YES_NO)


def moved(
    reference: str, what: str, where: str, start: str, event: CalendarEvent | None = None
) -> Reply:
    return Reply(
        _(
            "Done: your {what} {where} is now on {start} (reference {reference}).",
            what=known(what),
            where=where,
            start=start,
            reference=reference,
        ),
        card=Card(_("Moved: {reference}", reference=reference), _facts(what, start)),
        calendar=event,
    )


def calendar_title(what: str, reference: str) -> Text:
    """The appointment's name in the customer's calendar."""
    return _("{what} ({reference})", what=known(what).capitalized(), reference=reference)


# --- troubleshooting ----------------------------------------------------------

GO_BACK, SKIP = _("Go back"), _("Skip")
FIXED = Reply(_("Great, I'm glad that's sorted! Anything else I can do?"), _MAIN_CHOICES)
BOOK_REPAIR, BOOK_TECHNICIAN = _("Book a repair"), _("Book a technician")


def which_device(titles: tuple[str, ...]) -> Reply:
    return Reply(_("Which of these is it about?"), tuple(known(title) for title in titles))


def guide_step(say: str, question: str, answers: tuple[str, ...], first: bool) -> Reply:
    """A guide's step, its words from the guide's file (translated in the catalog)."""
    extra = (SKIP,) if first else (GO_BACK, SKIP)
    return Reply(
        _("{say}\n{question}", say=known(say), question=known(question)),
        (*(known(answer) for answer in answers), *extra),
    )


def dead_end(kind_of_help: str) -> Reply:
    if kind_of_help == "repair":
        text = _(
            "Thanks for trying those steps. It looks like it needs a closer look: shall I "
            "book an in-store repair?"
        )
    else:
        text = _(
            "Thanks for trying those steps. It looks like it needs a closer look: shall I "
            "book a technician visit?"
        )
    choice = BOOK_REPAIR if kind_of_help == "repair" else BOOK_TECHNICIAN
    return Reply(text, (choice, ASK_FOR_PERSON, NO_THANKS))


def guide_end(text: str) -> Reply:
    return Reply(_("{end} Anything else I can do?", end=known(text)), _MAIN_CHOICES)


# --- talking to a person ----------------------------------------------------------------

LEAVE_A_NOTE = _("Leave a note")
STOP_WAITING = _("Stop waiting")
OUR_TEAM = _("Our team")


def queued(position: int, wait_minutes: int) -> Reply:
    if position == 1:
        place = _("next in line")
    else:
        place = _("number {position} in the queue", position=position)
    return Reply(
        _(
            "I've asked our team to join. You're {place}; the wait is about {wait}. You can "
            'keep typing: everything you write is passed on. Type "cancel" to stop waiting.',
            place=place,
            wait=_n("a minute", "{count} minutes", wait_minutes),
        ),
        (STOP_WAITING,),
    )


def moved_up(position: int) -> Reply:
    if position == 1:
        return Reply(_("You're next in line: someone from our team will be with you shortly."))
    return Reply(
        _("You've moved up: you're now number {position} in the queue.", position=position)
    )


def agent_joined(name: str) -> Reply:
    return Reply(_("{agent} from our team has joined the conversation.", agent=name))


def agent_left(name: str) -> Reply:
    return Reply(
        _(
            "{agent} has left the conversation, and you're back with me. Did that solve your "
            "problem?",
            agent=name,
        ),
        YES_NO,
    )


RATINGS = ("1", "2", "3", "4", "5")


def ask_rating(agent: str) -> Reply:
    return Reply(
        _(
            "Thanks. How would you rate your chat with {agent}, from 1 (poor) to 5 (great)?",
            agent=agent,
        ),
        RATINGS,
    )


THANKS_FOR_RATING = Reply(_("Thank you! Anything else I can do?"), _MAIN_CHOICES)
STILL_WAITING = Reply(
    _(
        "Your message is with our team; someone will be with you shortly. "
        'Type "cancel" to stop waiting.'
    )
)
STOPPED_WAITING = Reply(
    _("Okay, I've cancelled your request for a person. What else can I do for you?"),
    _MAIN_CHOICES,
)
SORRY_NOT_SOLVED = Reply(
    _(
        "Sorry it isn't sorted yet. I can put you through to someone again, or leave a note "
        "for our team to get back to you."
    ),
    (ASK_FOR_PERSON, LEAVE_A_NOTE),
)
NOBODY_FREE = Reply(
    _(
        "Sorry, nobody from our team could take your request in time. Would you like to "
        "leave a note, so that they get back to you?"
    ),
    (LEAVE_A_NOTE, NO_THANKS),
)
TEAM_UNREACHABLE = Reply(
    _(
        "Sorry, I can't reach our team right now. Would you like to leave a note, so that "
        "they get back to you?"
    ),
    (LEAVE_A_NOTE, NO_THANKS),
)
AGENT_UNREACHABLE = Reply(
    _("Sorry, your last message didn't reach our team. Please send it again in a moment.")
)


def outside_hours(hours: str) -> Reply:
    return Reply(
        _(
            "Our team isn't available right now (they're here {hours}). Would you like to "
            "leave a note, so that they get back to you?",
            hours=hours,
        ),
        (LEAVE_A_NOTE, NO_THANKS),
    )


def ask_contact(known_contacts: tuple[str, ...]) -> Reply:
    if known_contacts:
        return Reply(
            _(
                "How should our team contact you? Pick one, or type another email address or "
                "phone number."
            ),
            known_contacts,
        )
    return Reply(_("How should our team contact you? Type an email address or a phone number."))


CONTACT_NOT_UNDERSTOOD = Reply(
    _(
        "That doesn't look like an email address or a phone number. Please type one, for "
        "example ana@example.com or +1 206 555 0100."
    )
)
ASK_NOTE = Reply(_("In a few words, what should our team know?"))
NO_NOTE = Reply(_("Okay, no note then. What else can I do for you?"), _MAIN_CHOICES)


def ticket_created(reference: str, contact: str) -> Reply:
    return Reply(
        _(
            "Thanks. Your request is {reference}: our team will get back to you at {contact}.",
            reference=reference,
            contact=contact,
        ),
        _MAIN_CHOICES,
    )


TICKET_FAILED = Reply(
    _("Sorry, I couldn't save your note just now. Please try again in a few minutes."),
    _MAIN_CHOICES,
)


# The choices of messages sent outside a turn (the agent left, nobody was free): the
# conversation does not record their offer, so their answers are understood any time.
ANSWERS_ANY_TIME = (*YES_NO, LEAVE_A_NOTE, NO_THANKS, STOP_WAITING)


# --- was this helpful? ----------------------------------------------------------------

HELPFUL, NOT_HELPFUL = _("Helpful"), _("Not helpful")
FEEDBACK_CHOICES = (HELPFUL, NOT_HELPFUL)
THANKS_FOR_FEEDBACK = Reply(_("Thanks for letting me know!"))
SORRY_NOT_HELPFUL = Reply(
    _(
        "Sorry about that. I can put you through to someone, or you can tell me in a few "
        "words what went wrong."
    ),
    (ASK_FOR_PERSON,),
)
FEEDBACK_NOTED = Reply(_("Thanks, I've passed that on to our team."), _MAIN_CHOICES)


# --- telling customers first --------------------------------------------------------------

KEEP_ME_POSTED = _("Keep me posted")  # fits a Messenger quick reply (20 characters)
OFFER_UPDATES = _("Want me to tell you when it changes?")
SUBSCRIBED = Reply(
    _('Okay, I\'ll message you here when it changes. Say "stop updates" any time to stop.')
)
NOT_SUBSCRIBED = Reply(_("Okay, no updates. What else can I do for you?"), _MAIN_CHOICES)
UPDATES_UNAVAILABLE = Reply(_("Sorry, I can't set up updates for that order."), _MAIN_CHOICES)
NO_UPDATES_TO_STOP = Reply(_("You're not getting any updates from me."), _MAIN_CHOICES)
REMINDER_NOTE = _(
    "I'll send you a reminder the day before. Say \"stop updates\" if you'd rather not."
)


def with_reminder_note(answer: Reply) -> Reply:
    return replace(answer, text=_("{answer} {note}", answer=answer.text, note=REMINDER_NOTE))


def offering_updates(answer: Reply) -> Reply:
    """An order's status with the offer to tell the customer when it changes: asked on the
    card, answered with KEEP_ME_POSTED (or a yes) as the next message."""
    card = answer.card and replace(answer.card, text=OFFER_UPDATES)
    return replace(answer, card=card, follow_ups=(KEEP_ME_POSTED,))


def order_subject(order_number: str) -> Text:
    return _("order {order}", order=order_number)


def appointment_subject(reference: str) -> Text:
    return _("appointment {reference}", reference=reference)


def updates_stopped(subjects: list[str]) -> Reply:
    named = subjects[0]
    for more in subjects[1:-1]:
        named = _("{first}, {second}", first=named, second=more)
    if len(subjects) > 1:
        named = _("{first} and {last}", first=named, last=subjects[-1])
    return Reply(_("Done: no more updates about {subjects}.", subjects=named), _MAIN_CHOICES)


def order_update(order_number: str, status: str, eta: datetime | None, now: datetime) -> Reply:
    """An order's new status, sent first: complete on its own, and says how to stop."""
    status = known(status.rstrip(" ."))
    facts: list[tuple[str, str]] = [(_("Status"), status)]
    if eta is None:
        text = _(
            'Update on your order {order}: it\'s now {status}. (Say "stop updates" to stop these.)',
            order=order_number,
            status=status,
        )
    else:
        text = _(
            'Update on your order {order}: it\'s now {status} and {eta}. (Say "stop updates" '
            "to stop these.)",
            order=order_number,
            status=status,
            eta=describe_eta(eta, now),
        )
        facts.append((_("Expected"), eta_moment(eta, now)))
    return Reply(text, card=Card(_("Order {order}", order=order_number), tuple(facts)))


def appointment_reminder(reference: str, what: str, where: str, start: str) -> Reply:
    return Reply(
        _(
            "Reminder: your {what} {where} is on {start} (reference {reference}). "
            "Can you still make it?",
            what=known(what),
            where=where,
            start=start,
            reference=reference,
        ),
        (KEEP_IT, MOVE_IT, CANCEL_IT),
        card=Card(_("Reminder: {reference}", reference=reference), _facts(what, start, where)),
    )
