"""Dialog ring: booking an appointment, on every channel."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from botbuilder.schema import Activity, ActivityTypes

from channels import replies
from services.scheduling import AppointmentKind, BookingDetails
from state.documents import DocumentWrite
from tests.conftest import NOW, account_key_of
from tests.dialogs.test_order_status import CHANNELS, Customer

# The clock is Tuesday 24 November 2026, 10:00 UTC (London time in winter).
HOME_FRIDAY = ["Fri 27 Nov, 8:00 AM", "Fri 27 Nov, 10:00 AM", "Fri 27 Nov, 12:00 PM",
               "Fri 27 Nov, 2:00 PM", "Fri 27 Nov, 4:00 PM"]  # fmt: skip


@pytest.fixture(params=[*CHANNELS, "sms"])
def customer(request: pytest.FixtureRequest) -> Customer:
    return Customer(request.param)


async def say(customer: Customer, text: str) -> list[str]:
    """The first line of each message: plain-text channels add the choices and the card's
    facts below it."""
    return [message.split("\n")[0] for message in await customer.say(text)]


def choices_in(activities: list[Activity]) -> list[str]:
    """The choices the customer is offered, as each channel shows them."""
    for activity in activities:
        if activity.suggested_actions:
            return [action.value or action.title for action in activity.suggested_actions.actions]
    numbered = re.findall(r"^\d+\. (.+)$", activities[-1].text or "", re.MULTILINE)
    assert numbered, activities
    return numbered


def reference_in(text: str) -> str:
    found = re.search(r"AP-[A-Z0-9]{6}", text)
    assert found, text
    return found.group()


async def test_everything_in_the_first_message(customer: Customer) -> None:
    assert await say(customer, "can someone come and mount my TV on Friday?") == [
        replies.ASK_ADDRESS.text
    ]
    offered = await say(customer, "1 High Street, London N1 2AB")
    assert offered == [replies.offer_slots("home installation", "at your home", ()).text]
    assert await say(customer, "Fri 27 Nov, 10:00 AM") == [
        "Shall I book a home installation at your home on Fri 27 Nov, 10:00 AM?"
    ]
    (done,) = await say(customer, "yes")
    assert done.startswith("Booked: a home installation at your home on Fri 27 Nov, 10:00 AM.")
    customer_id = await customer.customer_id()
    appointments = await customer.parts.scheduling.list_for_customer(customer_id)
    assert [(a.reference, a.address, a.device) for a in appointments] == [
        (reference_in(done), "1 High Street, London N1 2AB", "tv")
    ]


async def test_booking_by_answering_each_question(customer: Customer) -> None:
    assert await say(customer, "I'd like to book an appointment") == [
        "What would you like to book?"
    ]
    assert await say(customer, "In-store repair") == [replies.ask_store(()).text]
    assert await say(customer, "oxford street") == [replies.ASK_WHEN.text]
    slots = await say(customer, "tomorrow at 3pm")
    assert slots == [replies.offer_slots("in-store repair", "at Oxford Street", ()).text]
    assert await say(customer, "Wed 25 Nov, 3:00 PM") == [
        "Shall I book an in-store repair at Oxford Street on Wed 25 Nov, 3:00 PM?"
    ]
    (done,) = await say(customer, "yes")
    assert "Wed 25 Nov, 3:00 PM" in done and reference_in(done)


async def test_a_past_time_is_explained_and_the_nearest_times_offered(customer: Customer) -> None:
    await say(customer, "I need my laptop repaired")
    await say(customer, "Oxford Street")
    assert await say(customer, "yesterday at 2pm") == [
        replies.PAST_TIME.text,
        replies.offer_slots("in-store repair", "at Oxford Street", ()).text,
    ]


async def test_a_closed_day_offers_the_nearest_open_ones() -> None:
    customer = Customer("webchat")
    await say(customer, "I need my laptop repaired")
    await say(customer, "Manchester Arndale")
    (offer,) = await customer.send(Activity(type=ActivityTypes.message, text="sunday at 11am"))
    offered = [action.title for action in offer.suggested_actions.actions]
    assert offered[-1] == replies.ANOTHER_TIME and len(offered) == 6
    assert all(day.startswith(("Sat 28 Nov", "Mon 30 Nov")) for day in offered[:-1]), offered


async def test_a_day_with_no_free_slot_offers_the_nearest_other_days(customer: Customer) -> None:
    # Wednesday at Manchester Arndale is fully booked by others.
    wednesday = datetime(2026, 11, 25, 12, tzinfo=UTC)
    scheduling = customer.parts.scheduling
    catalogue = await scheduling.catalogue()
    for slot in catalogue.slots_on(AppointmentKind.IN_STORE_REPAIR, "manchester-arndale",
                                   wednesday.date()):  # fmt: skip
        await scheduling.book("someone-else", slot, BookingDetails())
    await say(customer, "I need my laptop repaired")
    await say(customer, "Manchester Arndale")
    offered = choices_in(await customer.send(Activity(type=ActivityTypes.message,
                                                      text="wednesday at noon")))  # fmt: skip
    assert offered[-1] == replies.ANOTHER_TIME and len(offered) == 6
    assert not [day for day in offered if day.startswith("Wed 25 Nov")], offered


async def test_cancel_and_help_in_the_middle_of_a_booking(customer: Customer) -> None:
    await say(customer, "book a repair")
    assert await say(customer, "help") == [
        replies.HELP.text.split("\n")[0],
        replies.ask_store(()).text,
    ]
    assert await say(customer, "cancel") == [replies.CANCELLED.text]
    assert await say(customer, "thanks") == [replies.YOU_ARE_WELCOME.text]


async def test_three_answers_that_fit_nothing_offer_a_person(customer: Customer) -> None:
    await say(customer, "book a repair")
    assert await say(customer, "the blue one") == [replies.ask_store(()).text]
    assert await say(customer, "whichever") == [replies.ask_store(()).text]
    assert await say(customer, "dunno") == [replies.OFFER_PERSON_INSTEAD.text]
    assert await say(customer, replies.ASK_FOR_PERSON) == [replies.TEAM_UNREACHABLE.text]


async def test_a_slot_taken_meanwhile_offers_the_next_ones(customer: Customer) -> None:
    await say(customer, "book a repair at oxford street tomorrow at 3pm")
    await say(customer, "Oxford Street")
    await say(customer, "Wed 25 Nov, 3:00 PM")
    # Another customer books that slot before this one says yes.
    (slot,) = await customer.parts.scheduling.free_slots(
        AppointmentKind.IN_STORE_REPAIR,
        "london-oxford-st",
        datetime(2026, 11, 25, 15, tzinfo=UTC),
        1,
    )
    await customer.parts.scheduling.book("someone-else", slot, BookingDetails())
    assert await say(customer, "yes") == [
        replies.SLOT_JUST_TAKEN.text,
        replies.offer_slots("in-store repair", "at Oxford Street", ()).text,
    ]


async def test_web_chat_gets_an_add_to_calendar_file_with_the_booking() -> None:
    customer = Customer("webchat")
    for line in ["I need my laptop repaired", "Oxford Street", "tomorrow at 3pm",
                 "Wed 25 Nov, 3:00 PM"]:  # fmt: skip
        await customer.say(line)
    (booked,) = await customer.send(Activity(type=ActivityTypes.message, text="yes"))
    (calendar,) = [a for a in booked.attachments if a.content_type == "text/calendar"]
    assert calendar.name == f"appointment-{reference_in(booked.text)}.ics"


async def test_a_day_picked_in_the_card_answers_when() -> None:
    customer = Customer("webchat")
    await customer.say("I need my laptop repaired")
    (question,) = await customer.send(Activity(type=ActivityTypes.message, text="Oxford Street"))
    (picker,) = [a for a in question.attachments if a.content["body"][0]["type"] == "Input.Date"]
    assert picker.content["actions"][0]["title"] == replies.PICK_DAY
    # The card's submit: no text, the picked day in `value`.
    offered = await customer.send(Activity(type=ActivityTypes.message, value={"day": "2026-11-27"}))
    titles = [action.title for action in offered[-1].suggested_actions.actions]
    assert titles[:-1] and all(t.startswith("Fri 27 Nov") for t in titles[:-1]), titles


async def test_a_directory_customer_is_offered_the_address_on_file(customer: Customer) -> None:
    # This channel account belongs to Alex Morgan in the company's directory (crm 1001).
    template = customer.adapter.template
    mapping = account_key_of(template.channel_id, template.from_property.id)
    await customer.parts.documents.write(
        {mapping: DocumentWrite({"customerId": "crm-1001", "linkedAt": NOW.isoformat()})}
    )
    assert await say(customer, "can someone come and mount my TV on Friday?") == [
        replies.use_address("").text
    ]
    offered = await say(customer, "1820 Pine Street, Seattle, WA 98101")
    assert offered == [replies.offer_slots("home installation", "at your home", ()).text]
    # Or another address, asked for.
    await say(customer, "cancel")
    await say(customer, "can someone come and mount my TV on Friday?")
    assert await say(customer, replies.ANOTHER_ADDRESS) == [replies.ASK_ADDRESS.text]
