from datetime import UTC, datetime, timedelta, timezone

import pytest

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
