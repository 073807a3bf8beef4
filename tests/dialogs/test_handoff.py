"""Dialog ring: asking for a person when nobody can take it (no desk set up), on every
channel: the note, with the contacts the company's directory has offered."""

from __future__ import annotations

import pytest
from botbuilder.schema import Activity, ActivityTypes

from channels import replies
from state.documents import DocumentWrite
from tests.conftest import NOW, account_key_of
from tests.dialogs.test_booking import choices_in, say
from tests.dialogs.test_order_status import CHANNELS, Customer


@pytest.fixture(params=[*CHANNELS, "sms"])
def customer(request: pytest.FixtureRequest) -> Customer:
    return Customer(request.param)


async def test_a_directory_customer_picks_a_contact_on_file_and_leaves_a_note(
    customer: Customer,
) -> None:
    # This channel account belongs to Alex Morgan in the company's directory (crm 1001).
    template = customer.adapter.template
    mapping = account_key_of(template.channel_id, template.from_property.id)
    await customer.parts.documents.write(
        {mapping: DocumentWrite({"customerId": "crm-1001", "linkedAt": NOW.isoformat()})}
    )
    assert await say(customer, "I want to speak to a human") == [replies.TEAM_UNREACHABLE.text]
    asked = await customer.send(Activity(type=ActivityTypes.message, text=replies.LEAVE_A_NOTE))
    assert choices_in(asked) == [
        "alex.morgan@example.com", "+1 206 555 0101",
    ]  # fmt: skip
    assert await say(customer, "+1 206 555 0101") == [replies.ASK_NOTE.text]
    (thanks,) = await say(customer, "The TV mount is loose")
    reference = thanks.split("Your request is ")[1].split(":")[0]
    assert thanks == replies.ticket_created(reference, "+12065550101").text.split("\n")[0]
    ticket = await customer.parts.tickets.get(reference)
    assert ticket is not None
    assert (ticket["customerId"], ticket["note"], ticket["whyNoPerson"]) == (
        "crm-1001", "The TV mount is loose", "noDesk",
    )  # fmt: skip


async def test_something_that_is_no_contact_is_asked_again_then_given_up(
    customer: Customer,
) -> None:
    await say(customer, "agent")
    await say(customer, replies.LEAVE_A_NOTE)
    assert await say(customer, "tomorrow") == [replies.CONTACT_NOT_UNDERSTOOD.text]
    assert await say(customer, "no idea") == [replies.CONTACT_NOT_UNDERSTOOD.text]
    assert await say(customer, "whatever") == [replies.NO_NOTE.text]


async def test_no_thanks_leaves_no_note(customer: Customer) -> None:
    await say(customer, "agent")
    assert await say(customer, replies.NO_THANKS) == [replies.NO_NOTE.text]
    assert await say(customer, "where is order 123456?") == [
        "Your order 123456 is out for delivery and expected by 1 PM today."
    ]
