from datetime import UTC, datetime, timedelta, timezone

import pytest

from channels import replies
from channels.replies import (
    Card,
    cancelled_appointment,
    confirm_cancel,
    describe_eta,
    order_status,
    order_update,
    which_appointment,
    which_device,
    which_task,
)
from services.orders import Order

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("eta", "words"),
    [
        (datetime(2026, 11, 24, 18, 0, tzinfo=UTC), "expected by 6 PM today"),
        (datetime(2026, 11, 25, 10, 30, tzinfo=UTC), "expected by 10:30 AM tomorrow"),
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "expected by 12 PM on Friday"),
        (datetime(2026, 12, 8, 9, 0, tzinfo=UTC), "expected by 9 AM on Tuesday 8 December"),
        (datetime(2027, 1, 5, 9, 0, tzinfo=UTC), "expected by 9 AM on Tuesday 5 January 2027"),
        (datetime(2026, 11, 23, 16, 0, tzinfo=UTC), "was expected by 4 PM yesterday"),
    ],
)
def test_eta_in_words(eta: datetime, words: str) -> None:
    assert describe_eta(eta, NOW) == words


def test_eta_is_told_in_the_customers_time_zone() -> None:
    # 23:00 UTC is 8 AM tomorrow in Tokyo.
    tokyo_now = NOW.astimezone(timezone(timedelta(hours=9)))
    eta = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert describe_eta(eta, tokyo_now) == "expected by 8 AM tomorrow"


def test_status_is_given_exactly_as_the_order_system_words_it() -> None:
    order = Order("123456", "out for delivery", datetime(2026, 11, 24, 18, 0, tzinfo=UTC))
    assert order_status(order, NOW).text == (
        "Your order 123456 is out for delivery and expected by 6 PM today."
    )
    assert order_status(Order("456789", "delivered", None), NOW).text == (
        "Your order 456789 is delivered."
    )


def test_an_order_update_is_complete_on_its_own_and_says_how_to_stop() -> None:
    eta = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    update = order_update("123456", "out for delivery. ", eta, NOW)  # a full stop of its own
    assert update.text == (
        "Update on your order 123456: it's now out for delivery and expected by 6 PM today. "
        '(Say "stop updates" to stop these.)'
    )
    assert update.card == Card(
        "Order 123456", (("Status", "out for delivery"), ("Expected", "6 PM today"))
    )
    without_eta = order_update("123456", "delivered.", None, NOW)
    assert without_eta.text == (
        'Update on your order 123456: it\'s now delivered. (Say "stop updates" to stop these.)'
    )
    assert without_eta.card == Card("Order 123456", (("Status", "delivered"),))


def test_the_appointment_and_device_questions_read_as_written() -> None:
    # The dialog tests compare with these functions' own output; here their English is pinned.
    main = ("Where is my order?", "Book an appointment", "Fix a device problem", "Help",
            "Talk to a person")  # fmt: skip
    done = cancelled_appointment("A-7")
    assert (done.text, done.choices) == (
        "Done: appointment A-7 is cancelled. What else can I do for you?", main,
    )  # fmt: skip
    ask = confirm_cancel("in-store repair", "Friday 27 November at 2 PM")
    assert (ask.text, ask.choices) == (
        "Cancel your in-store repair on Friday 27 November at 2 PM?", ("Yes", "No"),
    )  # fmt: skip
    which = which_appointment(("In-store repair, Fri 27 Nov", "Phone call, Mon 30 Nov"))
    assert (which.text, which.choices) == (
        "You have more than one appointment. Which one is it about?",
        ("In-store repair, Fri 27 Nov", "Phone call, Mon 30 Nov"),
    )
    device = which_device(("Router", "Phone"))
    assert (device.text, device.choices) == ("Which of these is it about?", ("Router", "Phone"))


def test_two_tasks_in_one_message_are_asked_about_by_name() -> None:
    which = which_task("orderStatus", "bookAppointment")
    assert (which.text, which.choices) == (
        "Do you want to check an order, or book an appointment?",
        ("Check an order", "Book an appointment"),
    )


MAIN = ["Where is my order?", "Book an appointment", "Fix a device problem", "Help",
        "Talk to a person"]  # fmt: skip


def said(reply: replies.Reply) -> tuple[str, list[str]]:
    return str(reply.text), [str(choice) for choice in reply.choices]


def test_what_the_customer_is_told_around_a_hand_off() -> None:
    assert said(replies.queued(1, 1)) == (
        "I've asked our team to join. You're next in line; the wait is about a minute. You can "
        'keep typing: everything you write is passed on. Type "cancel" to stop waiting.',
        ["Stop waiting"],
    )
    assert said(replies.queued(3, 7))[0].startswith(
        "I've asked our team to join. You're number 3 in the queue; the wait is about 7 minutes."
    )
    assert said(replies.moved_up(1)) == (
        "You're next in line: someone from our team will be with you shortly.", [])  # fmt: skip
    assert said(replies.moved_up(3)) == (
        "You've moved up: you're now number 3 in the queue.", [])  # fmt: skip
    assert said(replies.agent_joined("Kim")) == (
        "Kim from our team has joined the conversation.", [])  # fmt: skip
    assert said(replies.agent_left("Kim")) == (
        "Kim has left the conversation, and you're back with me. Did that solve your problem?",
        ["Yes", "No"],
    )
    assert said(replies.ask_rating("Kim")) == (
        "Thanks. How would you rate your chat with Kim, from 1 (poor) to 5 (great)?",
        ["1", "2", "3", "4", "5"],
    )
    assert said(replies.outside_hours("Mon 09:00-17:00 (UTC)")) == (
        "Our team isn't available right now (they're here Mon 09:00-17:00 (UTC)). Would you "
        "like to leave a note, so that they get back to you?",
        ["Leave a note", "No thanks"],
    )
    assert replies.in_language(replies.queued(3, 7), "de").text.startswith(
        "Ich habe unser Team dazugebeten. Sie sind auf Platz 3 der Warteschlange; die Wartezeit "
        "beträgt etwa 7 Minuten."
    )


def test_welcome_back_names_where_the_customer_was_and_what_they_were_doing() -> None:
    assert said(replies.resume_offer("msteams", "123456")) == (
        "Welcome back! On Teams you were checking order 123456. Want the latest status?",
        ["Yes", "No"],
    )
    assert said(replies.resume_offer("sms", None)) == (
        "Welcome back! By SMS you were checking an order. Want to continue?",
        ["Yes", "No"],
    )
    assert said(replies.resume_booking("msteams", "callBack", None)) == (
        "Welcome back! On Teams you were booking a phone call back. Want to continue?",
        ["Yes", "No"],
    )
    assert said(replies.resume_booking("webchat", "homeInstallation", "2026-11-27"))[1] == [
        "Yes", "No"]  # fmt: skip
    assert str(replies.resume_booking("webchat", "homeInstallation", "2026-11-27").text) == (
        "Welcome back! On web chat you were booking a home installation for Fri 27 Nov. "
        "Want to continue?"
    )
    assert str(replies.resume_booking("facebook", None, "2026-11-27T15:00").text) == (
        "Welcome back! On Messenger you were booking an appointment for Fri 27 Nov, 3:00 PM. "
        "Want to continue?"
    )
    assert [str(replies.channel_place(c)) for c in ("webchat", "msteams", "facebook", "sms",
                                                    "telegram")] == [
        "on web chat", "on Teams", "on Messenger", "by SMS", "on telegram"]  # fmt: skip


def test_updates_reminders_links_and_guides_read_as_written() -> None:
    assert said(replies.updates_stopped(["order 1"])) == (
        "Done: no more updates about order 1.", MAIN)  # fmt: skip
    assert said(replies.updates_stopped(["order 1", "order 2"]))[0] == (
        "Done: no more updates about order 1 and order 2.")  # fmt: skip
    assert said(replies.updates_stopped(["order 1", "order 2", "appointment AP-1"]))[0] == (
        "Done: no more updates about order 1, order 2 and appointment AP-1.")  # fmt: skip
    assert str(replies.order_subject("123456")) == "order 123456"
    assert str(replies.appointment_subject("AP-1")) == "appointment AP-1"
    reminder = replies.appointment_reminder(
        "AP-123", "home installation", "at your home", "Fri 27 Nov, 3:00 PM")  # fmt: skip
    assert said(reminder) == (
        "Reminder: your home installation at your home is on Fri 27 Nov, 3:00 PM (reference "
        "AP-123). Can you still make it?",
        ["Keep it", "Move it", "Cancel it"],
    )
    assert reminder.card == Card("Reminder: AP-123", (
        ("What", "Home installation"), ("When", "Fri 27 Nov, 3:00 PM"),
        ("Where", "your home")))  # fmt: skip
    assert said(replies.link_code_issued("ABC-DEF", 10)) == (
        "Your link code is ABC-DEF. On your other channel, send: link ABC-DEF\n"
        "It works once, for 10 minutes.", [])  # fmt: skip
    assert said(replies.guide_end("Try restarting it.")) == (
        "Try restarting it. Anything else I can do?", MAIN)  # fmt: skip
    assert said(replies.no_free_slots("in-store repair")) == (
        "There's no free time for an in-store repair near then. When else would suit you?",
        [],
    )


def test_an_order_not_found_asks_about_another_number() -> None:
    assert said(replies.order_not_found("999999")) == (
        "I couldn't find an order with the number 999999. Would you like to try another number?",
        ["Yes", "No"],
    )


def test_an_update_keeps_the_order_systems_words_up_to_their_own_full_stop() -> None:
    update = order_update("123456", "handed to FEDEX.", None, NOW)
    assert update.text.startswith("Update on your order 123456: it's now handed to FEDEX. (")
