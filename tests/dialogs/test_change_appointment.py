"""Dialog ring: checking, moving and cancelling an appointment, on every channel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels import replies
from services.scheduling import Appointment, AppointmentKind, BookingDetails
from tests.conftest import make_settings
from tests.dialogs.test_booking import say
from tests.dialogs.test_order_status import CHANNELS, Customer

REPAIR, STORE = AppointmentKind.IN_STORE_REPAIR, "london-oxford-st"


@pytest.fixture(params=[*CHANNELS, "sms"])
def customer(request: pytest.FixtureRequest) -> Customer:
    return Customer(request.param)


async def booked_for(customer: Customer, at: datetime, kind: AppointmentKind = REPAIR,
                     where: str = STORE) -> Appointment:  # fmt: skip
    """An appointment booked for this customer (who has said hello once)."""
    await customer.say("hi")
    customer_id = await customer.customer_id()
    (slot,) = await customer.parts.scheduling.free_slots(kind, where, at, 1)
    return await customer.parts.scheduling.book(customer_id, slot, BookingDetails(device="laptop"))


async def test_checking_an_appointment_and_keeping_it(customer: Customer) -> None:
    booked = await booked_for(customer, datetime(2026, 11, 27, 14, tzinfo=UTC))
    assert await say(customer, "when is my appointment?") == [
        replies.appointment_details(
            booked.reference, "in-store repair", "at Oxford Street", "Fri 27 Nov, 2:00 PM"
        ).text
    ]
    assert await say(customer, "Keep it") == [replies.KEPT.text]


async def test_moving_an_appointment_to_next_week(customer: Customer) -> None:
    booked = await booked_for(customer, datetime(2026, 11, 27, 14, tzinfo=UTC))
    assert await say(customer, "move my repair appointment to next week") == [
        replies.offer_slots("in-store repair", "at Oxford Street", ()).text
    ]
    assert await say(customer, "Mon 30 Nov, 12:00 PM") == [
        "Shall I move your in-store repair to Mon 30 Nov, 12:00 PM?"
    ]
    assert await say(customer, "yes") == [
        f"Done: your in-store repair at Oxford Street is now on Mon 30 Nov, 12:00 PM "
        f"(reference {booked.reference})."
    ]
    moved = await customer.parts.scheduling.get(booked.reference)
    assert moved.slot.start == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert moved.device == "laptop"


async def test_cancelling_an_appointment(customer: Customer) -> None:
    booked = await booked_for(customer, datetime(2026, 11, 27, 14, tzinfo=UTC))
    assert await say(customer, "cancel my repair booking") == [
        "Cancel your in-store repair on Fri 27 Nov, 2:00 PM?"
    ]
    assert await say(customer, "yes") == [replies.cancelled_appointment(booked.reference).text]
    assert await customer.parts.scheduling.list_for_customer(booked.customer_id) == []


async def test_two_appointments_ask_which_one(customer: Customer) -> None:
    await booked_for(customer, datetime(2026, 11, 27, 14, tzinfo=UTC))
    second = await booked_for(
        customer, datetime(2026, 12, 1, 10, tzinfo=UTC), AppointmentKind.TECHNICIAN_VISIT, "home"
    )
    assert await say(customer, "when is my appointment?") == [replies.which_appointment(()).text]
    assert await say(customer, "Technician visit, Tue 1 Dec, 10:00 AM") == [
        replies.appointment_details(
            second.reference, "technician visit", "at your home", "Tue 1 Dec, 10:00 AM"
        ).text
    ]


async def test_a_customer_not_known_here_gives_the_reference(tmp_path: Path) -> None:
    # Two instances of the bot over one database: the booking was made on the other one.
    settings = make_settings(STORAGE="sqlite", DATA_DIR=tmp_path)
    teams, customer = Customer("msteams", settings), Customer("webchat", settings)
    for instance in (teams, customer):
        await instance.parts.documents.open()
    booked = await booked_for(teams, datetime(2026, 11, 27, 14, tzinfo=UTC))
    assert await say(customer, "when is my appointment?") == [replies.ASK_REFERENCE.text]
    assert await say(customer, f"it's {booked.reference.lower()}") == [
        replies.appointment_details(
            booked.reference, "in-store repair", "at Oxford Street", "Fri 27 Nov, 2:00 PM"
        ).text
    ]
    assert await say(customer, "Keep it") == [replies.KEPT.text]
    # The reference in the question itself: no need to ask for it.
    assert await say(customer, f"when is my appointment {booked.reference}?") == [
        replies.appointment_details(
            booked.reference, "in-store repair", "at Oxford Street", "Fri 27 Nov, 2:00 PM"
        ).text
    ]
    assert await say(customer, "Keep it") == [replies.KEPT.text]
    assert await say(customer, "when is my appointment?") == [replies.ASK_REFERENCE.text]
    assert await say(customer, "AP-NOSUCH") == [replies.REFERENCE_NOT_FOUND.text]
    for instance in (teams, customer):
        await instance.parts.documents.close()
