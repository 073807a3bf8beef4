"""What the bot says: channel-neutral replies (text and the choices offered).

Plain Python. Dialogs pick a reply; rendering it for a channel happens at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from channels.calendar import CalendarEvent
from services.orders import ORDER_NUMBER_MAX_DIGITS, ORDER_NUMBER_MIN_DIGITS, Order


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


YES_NO = ("Yes", "No")


ASK_ABOUT_ORDER = "Where is my order?"
ASK_TO_BOOK = "Book an appointment"
ASK_TO_FIX = "Fix a device problem"
ASK_FOR_HELP = "Help"
ASK_FOR_PERSON = "Talk to a person"
# The three tasks, help and a person (each fits Messenger's 20-character quick replies).
_MAIN_CHOICES = (ASK_ABOUT_ORDER, ASK_TO_BOOK, ASK_TO_FIX, ASK_FOR_HELP, ASK_FOR_PERSON)

WELCOME = Reply(
    "Hi, I'm the customer service assistant. I can tell you where your order is, book or "
    'change an appointment, explain what I can do (type "help"), or put you in touch with a '
    'person (type "agent").',
    _MAIN_CHOICES,
)
HELP = Reply(
    "Here is what I can do:\n"
    '- Order status: ask "Where is my order?" or send your order number.\n'
    "- Appointments: book an in-store repair, a home installation, a technician visit or a "
    'call back ("book a repair on Friday"), or check, move or cancel one.\n'
    '- A person: type "agent" and I will pass you to our team.\n'
    '- Start over: type "cancel" at any time.',
    _MAIN_CHOICES,
)
NOT_UNDERSTOOD = Reply(
    "Sorry, I didn't catch that. I can check an order's status, book or change an "
    "appointment, or put you in touch with a person.",
    _MAIN_CHOICES,
)
NOT_UNDERSTOOD_AGAIN = Reply(
    "Sorry, I still didn't understand. Would you like to talk to a person?",
    (ASK_FOR_PERSON, ASK_FOR_HELP),
)
# After three answers that fit no choice: a person is offered rather than the question again.
OFFER_PERSON_INSTEAD = Reply(
    "Sorry, I'm not getting this right. Would you like to talk to a person?",
    (ASK_FOR_PERSON, ASK_FOR_HELP),
)
NOT_WHAT_YOU_MEANT = Reply(
    "Sorry about that. Could you say it another way? I've noted it so I can learn. "
    'Or type "agent" to talk to a person.',
    _MAIN_CHOICES,
)
GOODBYE = Reply("Goodbye, and thanks for getting in touch!")
YOU_ARE_WELCOME = Reply("You're welcome! Anything else I can do?", _MAIN_CHOICES)

# What each task is called when the bot asks which one the customer meant, and its choice.
TASK_NAMES = {
    "orderStatus": ("check an order", "Check an order"),
    "bookAppointment": ("book an appointment", ASK_TO_BOOK),
    "changeAppointment": ("change an appointment", "Change an appointment"),
    "troubleshoot": ("fix a problem with a device", ASK_TO_FIX),
    "humanHandoff": ("talk to a person", "Talk to a person"),
    "linkChannel": ("link another channel", "Link another channel"),
    "deleteData": ("delete your data", "Delete my data"),
    "stopUpdates": ("stop updates", "Stop updates"),
}


def which_task(first: str, second: str) -> Reply:
    (one, one_choice), (other, other_choice) = TASK_NAMES[first], TASK_NAMES[second]
    return Reply(f"Do you want to {one}, or {other}?", (one_choice, other_choice))


CANCELLED = Reply("Okay, I've stopped that. What else can I do for you?", _MAIN_CHOICES)
NOTHING_TO_CANCEL = Reply("There's nothing to cancel. What can I do for you?", _MAIN_CHOICES)
NO_TEXT = Reply(
    "I can only read typed messages for now. Type your order number, "
    '"help", or "agent" to talk to a person.'
)
TURN_FAILED = Reply("Sorry, something went wrong on my side. Please send your message again.")

ASK_ORDER_NUMBER = Reply("Can you provide your order number?")
ORDER_NUMBER_FORMAT = Reply(
    f"That doesn't look like an order number: it has {ORDER_NUMBER_MIN_DIGITS} to "
    f"{ORDER_NUMBER_MAX_DIGITS} digits, for example 123456 or #123-456. "
    "What is your order number?"
)
OFFER_PERSON_AFTER_TRIES = Reply(
    "I still can't find an order number in that. Would you like to talk to a person instead?",
    YES_NO,
)
NOT_TRYING_AGAIN = Reply(
    'No problem. Ask "Where is my order?" whenever you have the number at hand.',
    _MAIN_CHOICES,
)
ORDER_SYSTEM_DOWN = Reply(
    "Sorry, I can't reach our order system right now. Please try again in a few minutes, "
    'or type "agent" to talk to a person.'
)


def offer_recent_order(order_number: str) -> Reply:
    return Reply(f"Is this about order {order_number}?", YES_NO)


ORDER_LOOKUPS_PAUSED = Reply(
    "I couldn't find several of the order numbers given here, so for everyone's privacy I've "
    'paused order lookups for an hour. Type "agent" to talk to a person.'
)
ASK_ORDER_PROOF = Reply(
    "To keep orders private: what's the email address or postcode on the order?"
)
ORDER_PROOF_REFUSED = Reply(
    "Sorry, that doesn't match the order, so I can't share its details here. "
    'Type "agent" to talk to a person.'
)


def order_not_found(order_number: str) -> Reply:
    return Reply(
        f"I couldn't find an order with the number {order_number}. "
        "Would you like to try another number?",
        YES_NO,
    )


def order_status(order: Order, now: datetime) -> Reply:
    """ "Your order 123456 is out for delivery and expected by 6 PM today." """
    status = order.status.rstrip(" .")
    facts = [("Status", status)]
    if order.eta is None:
        text = f"Your order {order.order_number} is {status}."
    else:
        text = f"Your order {order.order_number} is {status} and {describe_eta(order.eta, now)}."
        facts.append(("Expected", describe_eta(order.eta, now).removeprefix("expected by ")))
    return Reply(text, card=Card(f"Order {order.order_number}", tuple(facts)))


def describe_eta(eta: datetime, now: datetime) -> str:
    """The ETA in words, in the customer's time zone (the one `now` carries)."""
    local = eta.astimezone(now.tzinfo)
    hour = local.strftime("%I").lstrip("0")
    clock = f"{hour} {local:%p}" if local.minute == 0 else f"{hour}:{local:%M %p}"
    days = (local.date() - now.date()).days
    if days == 0:
        when = f"{clock} today"
    elif days == 1:
        when = f"{clock} tomorrow"
    elif days == -1:
        when = f"{clock} yesterday"
    elif 1 < days < 7:
        when = f"{clock} on {local:%A}"
    elif local.year == now.year:
        when = f"{clock} on {local:%A} {local.day} {local:%B}"
    else:
        when = f"{clock} on {local:%A} {local.day} {local:%B} {local.year}"
    return f"was expected by {when}" if local < now else f"expected by {when}"


# --- one customer across channels --------------------------------------------

CHANNEL_NAMES = {
    "webchat": "web chat",
    "directline": "web chat",
    "msteams": "Teams",
    "facebook": "Messenger",
    "emulator": "the Emulator",
    "sms": "SMS",
}


def channel_name(channel_id: str) -> str:
    return CHANNEL_NAMES.get(channel_id, channel_id)


def link_code_issued(code: str, minutes: int) -> Reply:
    return Reply(
        f"Your link code is {code}. On your other channel, send: link {code}\n"
        f"It works once, for {minutes} minutes."
    )


LINKED = Reply("Done: your accounts are linked, and I'll recognise you on each of them.")
ALREADY_LINKED = Reply("This account is already linked with that one.")
LINK_CODE_REFUSED = Reply(
    "That code didn't work: it may be mistyped, used or expired. "
    'Ask for a new one with "link another channel" where you are already known.'
)
LINK_TOO_MANY_TRIES = Reply("Too many wrong codes from this account. Please try again in an hour.")
LINKING_PAUSED = Reply(
    "Linking accounts is paused for a moment because of unusual activity. "
    "Please try again in a few minutes."
)
UNLINKED = Reply(
    "This account is no longer linked with your other channels. Here, we start afresh."
)


def resume_offer(channel_id: str, order_number: str | None) -> Reply:
    where = channel_name(channel_id)
    if order_number:
        return Reply(
            f"Welcome back! On {where} you were checking order {order_number}. "
            "Want the latest status?",
            YES_NO,
        )
    return Reply(f"Welcome back! On {where} you were checking an order. Want to continue?", YES_NO)


KIND_NAMES = {
    "inStoreRepair": "an in-store repair",
    "homeInstallation": "a home installation",
    "technicianVisit": "a technician visit",
    "callBack": "a phone call back",
}


def resume_booking(channel_id: str, kind: str | None, when: str | None) -> Reply:
    """ "Welcome back! On web chat you were booking a home installation for Fri 27 Nov." """
    what = KIND_NAMES.get(kind or "", "an appointment")
    day = ""
    if when:
        moment = datetime.fromisoformat(when)
        day = f" for {moment:%a} {moment.day} {moment:%b}" + (
            f", {moment.strftime('%I').lstrip('0')}:{moment:%M %p}" if "T" in when else ""
        )
    return Reply(
        f"Welcome back! On {channel_name(channel_id)} you were booking {what}{day}. "
        "Want to continue?",
        YES_NO,
    )


NOT_RESUMING = Reply("Okay. What can I do for you?", _MAIN_CHOICES)
CONFIRM_DELETE = Reply(
    "This deletes everything I know about you, on every channel: the orders you asked about, "
    "linked accounts and our conversations. Delete it all?",
    YES_NO,
)
DATA_DELETED = Reply(
    "Done: I've deleted everything I knew about you. If you write again, "
    "I'll greet you as a new customer."
)
NOT_DELETED = Reply("Okay, nothing was deleted.", _MAIN_CHOICES)


# --- appointments -------------------------------------------------------------

ANOTHER_TIME = "Another time"


def ask_kind(labels: tuple[str, ...]) -> Reply:
    return Reply("What would you like to book?", tuple(label.capitalize() for label in labels))


def ask_store(names: tuple[str, ...]) -> Reply:
    return Reply("Which store suits you?", names)


ASK_ADDRESS = Reply("What's the address for the visit? (street, town and postcode)")
ANOTHER_ADDRESS = "Another address"


def use_address(address: str) -> Reply:
    return Reply("Shall we come to the address we have for you?", (address, ANOTHER_ADDRESS))


ASK_PHONE = Reply("Which phone number should we call you on?")
PICK_DAY = "Pick this day"
ASK_WHEN = Reply(
    'When suits you? For example "Friday afternoon" or "tomorrow at 3pm".', pick_day=PICK_DAY
)
WHEN_NOT_UNDERSTOOD = Reply(
    'Sorry, I didn\'t get a day or time from that. Try "Monday morning", "the 12th" or '
    '"tomorrow at 3pm".'
)
PAST_TIME = Reply("That time has already passed, so here are the nearest times from now.")
SCHEDULING_DOWN = Reply(
    "Sorry, I can't reach our booking system right now. Please try again in a few minutes, "
    'or type "agent" to talk to a person.'
)
NOT_BOOKED = Reply("Okay, I haven't booked anything. What else can I do for you?", _MAIN_CHOICES)
SLOT_JUST_TAKEN = Reply("Sorry, someone has just booked that time.")


def _a(what: str) -> str:
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def describe_start(start: datetime, now: datetime) -> str:
    """ "Fri 27 Nov, 2:30 PM" in the customer's time zone (the one `now` carries)."""
    local = start.astimezone(now.tzinfo)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%a} {local.day} {local:%b}, {hour}:{local:%M %p}"


def offer_slots(what: str, where: str, starts: tuple[str, ...]) -> Reply:
    return Reply(
        f"Here are the nearest free times for {_a(what)} {where}. Which one suits you?",
        (*starts, ANOTHER_TIME),
    )


def no_free_slots(what: str) -> Reply:
    return Reply(f"There's no free time for {_a(what)} near then. When else would suit you?")


def confirm_booking(what: str, where: str, start: str, facts: tuple[tuple[str, str], ...]) -> Reply:
    return Reply(
        f"Shall I book {_a(what)} {where} on {start}?",
        YES_NO,
        Card("Your booking", (("What", what.capitalize()), ("When", start), *facts)),
    )


def booked(
    reference: str, what: str, where: str, start: str, event: CalendarEvent | None = None
) -> Reply:
    return Reply(
        f"Booked: {_a(what)} {where} on {start}. Your reference is {reference}.",
        card=Card(f"Booked: {reference}", (("What", what.capitalize()), ("When", start),
                                          ("Where", where.removeprefix("at ")))),
        calendar=event,
    )  # fmt: skip


MOVE_IT, CANCEL_IT, KEEP_IT = "Move it", "Cancel it", "Keep it"
ASK_REFERENCE = Reply(
    "I can't find an appointment for you here. What's your booking reference? "
    "It looks like AP-7KQ2XM."
)
REFERENCE_NOT_FOUND = Reply(
    'I couldn\'t find a booking with that reference. Type "agent" and a person can look it up.'
)
KEPT = Reply("Okay, I've left it as it is. What else can I do for you?", _MAIN_CHOICES)


def which_appointment(descriptions: tuple[str, ...]) -> Reply:
    return Reply("You have more than one appointment. Which one is it about?", descriptions)


def appointment_details(reference: str, what: str, where: str, start: str) -> Reply:
    return Reply(
        f"Your {what} {where} is on {start} (reference {reference}). "
        "Would you like to move it or cancel it?",
        (MOVE_IT, CANCEL_IT, KEEP_IT),
        Card(f"Appointment {reference}", (("What", what.capitalize()), ("When", start),
                                          ("Where", where.removeprefix("at ")))),
    )  # fmt: skip


def confirm_cancel(what: str, start: str) -> Reply:
    return Reply(f"Cancel your {what} on {start}?", YES_NO)


def cancelled_appointment(reference: str) -> Reply:
    return Reply(
        f"Done: appointment {reference} is cancelled. What else can I do for you?", _MAIN_CHOICES
    )


def confirm_move(what: str, start: str) -> Reply:
    return Reply(f"Shall I move your {what} to {start}?", YES_NO)


def moved(
    reference: str, what: str, where: str, start: str, event: CalendarEvent | None = None
) -> Reply:
    return Reply(
        f"Done: your {what} {where} is now on {start} (reference {reference}).",
        card=Card(f"Moved: {reference}", (("What", what.capitalize()), ("When", start))),
        calendar=event,
    )


# --- troubleshooting ----------------------------------------------------------

GO_BACK, SKIP = "Go back", "Skip"
FIXED = Reply("Great, I'm glad that's sorted! Anything else I can do?", _MAIN_CHOICES)
BOOK_REPAIR, BOOK_TECHNICIAN = "Book a repair", "Book a technician"
NO_THANKS = "No thanks"


def which_device(titles: tuple[str, ...]) -> Reply:
    return Reply("Which of these is it about?", titles)


def guide_step(say: str, question: str, answers: tuple[str, ...], first: bool) -> Reply:
    extra = (SKIP,) if first else (GO_BACK, SKIP)
    return Reply(f"{say}\n{question}", (*answers, *extra))


def dead_end(kind_of_help: str) -> Reply:
    choices = {"repair": BOOK_REPAIR, "technician": BOOK_TECHNICIAN}[kind_of_help]
    return Reply(
        "Thanks for trying those steps. It looks like it needs a closer look: shall I book "
        + ("an in-store repair?" if kind_of_help == "repair" else "a technician visit?"),
        (choices, ASK_FOR_PERSON, NO_THANKS),
    )


def guide_end(text: str) -> Reply:
    return Reply(f"{text} Anything else I can do?", _MAIN_CHOICES)


# --- talking to a person ----------------------------------------------------------------

LEAVE_A_NOTE = "Leave a note"
STOP_WAITING = "Stop waiting"


def _minutes(minutes: int) -> str:
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def queued(position: int, wait_minutes: int) -> Reply:
    place = "next in line" if position == 1 else f"number {position} in the queue"
    return Reply(
        f"I've asked our team to join. You're {place}; the wait is about "
        f"{_minutes(wait_minutes)}. You can keep typing: everything you write is passed on. "
        'Type "cancel" to stop waiting.',
        (STOP_WAITING,),
    )


def moved_up(position: int) -> Reply:
    if position == 1:
        return Reply("You're next in line: someone from our team will be with you shortly.")
    return Reply(f"You've moved up: you're now number {position} in the queue.")


def agent_joined(name: str) -> Reply:
    return Reply(f"{name} from our team has joined the conversation.")


def agent_left(name: str) -> Reply:
    return Reply(
        f"{name} has left the conversation, and you're back with me. Did that solve your problem?",
        YES_NO,
    )


RATINGS = ("1", "2", "3", "4", "5")


def ask_rating(agent: str) -> Reply:
    return Reply(
        f"Thanks. How would you rate your chat with {agent}, from 1 (poor) to 5 (great)?",
        RATINGS,
    )


THANKS_FOR_RATING = Reply("Thank you! Anything else I can do?", _MAIN_CHOICES)
STILL_WAITING = Reply(
    "Your message is with our team; someone will be with you shortly. "
    'Type "cancel" to stop waiting.'
)
STOPPED_WAITING = Reply(
    "Okay, I've cancelled your request for a person. What else can I do for you?", _MAIN_CHOICES
)
SORRY_NOT_SOLVED = Reply(
    "Sorry it isn't sorted yet. I can put you through to someone again, or leave a note "
    "for our team to get back to you.",
    (ASK_FOR_PERSON, LEAVE_A_NOTE),
)
NOBODY_FREE = Reply(
    "Sorry, nobody from our team could take your request in time. Would you like to leave "
    "a note, so that they get back to you?",
    (LEAVE_A_NOTE, NO_THANKS),
)
TEAM_UNREACHABLE = Reply(
    "Sorry, I can't reach our team right now. Would you like to leave a note, so that they "
    "get back to you?",
    (LEAVE_A_NOTE, NO_THANKS),
)
AGENT_UNREACHABLE = Reply(
    "Sorry, your last message didn't reach our team. Please send it again in a moment."
)


def outside_hours(hours: str) -> Reply:
    return Reply(
        f"Our team isn't available right now (they're here {hours}). Would you like to leave "
        "a note, so that they get back to you?",
        (LEAVE_A_NOTE, NO_THANKS),
    )


def ask_contact(known: tuple[str, ...]) -> Reply:
    if known:
        return Reply(
            "How should our team contact you? Pick one, or type another email address or "
            "phone number.",
            known,
        )
    return Reply("How should our team contact you? Type an email address or a phone number.")


CONTACT_NOT_UNDERSTOOD = Reply(
    "That doesn't look like an email address or a phone number. Please type one, for "
    "example ana@example.com or +1 206 555 0100."
)
ASK_NOTE = Reply("In a few words, what should our team know?")
NO_NOTE = Reply("Okay, no note then. What else can I do for you?", _MAIN_CHOICES)


def ticket_created(reference: str, contact: str) -> Reply:
    return Reply(
        f"Thanks. Your request is {reference}: our team will get back to you at {contact}.",
        _MAIN_CHOICES,
    )


TICKET_FAILED = Reply(
    "Sorry, I couldn't save your note just now. Please try again in a few minutes.",
    _MAIN_CHOICES,
)


# --- was this helpful? ----------------------------------------------------------------

HELPFUL, NOT_HELPFUL = "Helpful", "Not helpful"
FEEDBACK_CHOICES = (HELPFUL, NOT_HELPFUL)
THANKS_FOR_FEEDBACK = Reply("Thanks for letting me know!")
SORRY_NOT_HELPFUL = Reply(
    "Sorry about that. I can put you through to someone, or you can tell me in a few words "
    "what went wrong.",
    (ASK_FOR_PERSON,),
)
FEEDBACK_NOTED = Reply("Thanks, I've passed that on to our team.", _MAIN_CHOICES)


# --- telling customers first --------------------------------------------------------------

STOP_UPDATES = "stop updates"
KEEP_ME_POSTED = "Keep me posted"  # fits a Messenger quick reply (20 characters)
OFFER_UPDATES = "Want me to tell you when it changes?"
SUBSCRIBED = Reply(
    f'Okay, I\'ll message you here when it changes. Say "{STOP_UPDATES}" any time to stop.'
)
NOT_SUBSCRIBED = Reply("Okay, no updates. What else can I do for you?", _MAIN_CHOICES)
UPDATES_UNAVAILABLE = Reply("Sorry, I can't set up updates for that order.", _MAIN_CHOICES)
NO_UPDATES_TO_STOP = Reply("You're not getting any updates from me.", _MAIN_CHOICES)
REMINDER_NOTE = (
    f"I'll send you a reminder the day before. Say \"{STOP_UPDATES}\" if you'd rather not."
)


def offering_updates(answer: Reply) -> Reply:
    """An order's status with the offer to tell the customer when it changes: asked on the
    card, answered with KEEP_ME_POSTED (or a yes) as the next message."""
    card = answer.card and replace(answer.card, text=OFFER_UPDATES)
    return replace(answer, card=card, follow_ups=(KEEP_ME_POSTED,))


def updates_stopped(subjects: list[str]) -> Reply:
    named = ", ".join(subjects[:-1]) + f" and {subjects[-1]}" if len(subjects) > 1 else subjects[0]
    return Reply(f"Done: no more updates about {named}.", _MAIN_CHOICES)


def order_update(order_number: str, status: str, eta: datetime | None, now: datetime) -> Reply:
    """An order's new status, sent first: complete on its own, and says how to stop."""
    status = status.rstrip(" .")
    facts = [("Status", status)]
    text = f"Update on your order {order_number}: it's now {status}"
    if eta is not None:
        text += f" and {describe_eta(eta, now)}"
        facts.append(("Expected", describe_eta(eta, now).removeprefix("expected by ")))
    text += f'. (Say "{STOP_UPDATES}" to stop these.)'
    return Reply(text, card=Card(f"Order {order_number}", tuple(facts)))


def appointment_reminder(reference: str, what: str, where: str, start: str) -> Reply:
    return Reply(
        f"Reminder: your {what} {where} is on {start} (reference {reference}). "
        "Can you still make it?",
        (KEEP_IT, MOVE_IT, CANCEL_IT),
        card=Card(f"Reminder: {reference}", (("What", what.capitalize()), ("When", start),
                                             ("Where", where.removeprefix("at ")))),
    )  # fmt: skip
