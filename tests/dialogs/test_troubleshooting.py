"""Dialog ring: guided troubleshooting with each guide, on every channel."""

from __future__ import annotations

from collections import deque

import pytest
from botbuilder.schema import Activity, ActivityTypes

from channels import replies
from tests.dialogs.test_booking import choices_in, say
from tests.dialogs.test_order_status import CHANNELS, Customer
from troubleshooting.guides import Guide, Outcome, load_guides

GUIDES = load_guides()
# A message a customer could open each guide with.
OPENERS = {
    "router": "my wifi keeps dropping",
    "laptop": "my laptop won't turn on",
    "printer": "my printer says offline",
    "tv": "there's no sound on my tv",
    "phone": "my phone battery drains really fast",
}


@pytest.fixture(params=[*CHANNELS, "sms"])
def customer(request: pytest.FixtureRequest) -> Customer:
    return Customer(request.param)


def path_to(guide: Guide, ends: set[str]) -> list[str]:
    """The answers that lead from the start to one of `ends`, shortest first."""
    todo: deque[tuple[str, list[str]]] = deque([(guide.start, [])])
    while todo:
        step_id, answers = todo.popleft()
        for answer, target in guide.steps[step_id].answers.items():
            if target in ends:
                return [*answers, answer]
            if target in guide.steps:
                todo.append((target, [*answers, answer]))
    raise AssertionError(f"{guide.device}: no path to {ends}")


def first_line(guide: Guide, step_id: str) -> str:
    return guide.steps[step_id].say


async def troubleshooting_record(customer: Customer) -> dict:
    return (await customer.stored_context())["troubleshooting"][-1]


@pytest.mark.parametrize("device", sorted(OPENERS))
async def test_each_guide_to_fixed(customer: Customer, device: str) -> None:
    guide = GUIDES[device]
    assert await say(customer, OPENERS[device]) == [first_line(guide, guide.start)]
    answers = path_to(guide, {Outcome.FIXED})
    for answer in answers[:-1]:
        await say(customer, answer)
    assert await say(customer, answers[-1]) == [replies.FIXED.text]
    record = await troubleshooting_record(customer)
    assert record["device"] == device and record["outcome"] == "fixed"
    assert len(record["tried"]) == len(answers)


@pytest.mark.parametrize("device", sorted(OPENERS))
async def test_each_guide_to_a_dead_end_that_books_with_what_was_tried(
    customer: Customer, device: str
) -> None:
    guide = GUIDES[device]
    await say(customer, OPENERS[device])
    answers = path_to(guide, {Outcome.REPAIR, Outcome.TECHNICIAN})
    for answer in answers[:-1]:
        await say(customer, answer)
    (offer,) = await say(customer, answers[-1])
    assert offer.startswith("Thanks for trying those steps.")
    record = await troubleshooting_record(customer)
    book = replies.BOOK_REPAIR if record["outcome"] == "repair" else replies.BOOK_TECHNICIAN
    asked = await say(customer, book)
    if record["outcome"] == "repair":
        assert asked == [replies.ask_store(()).text]
        await say(customer, "Oxford Street")
    else:
        assert asked == [replies.ASK_ADDRESS.text]
        await say(customer, "1 High Street, London N1 2AB")
    offered = choices_in(
        await customer.send(Activity(type=ActivityTypes.message, text="tomorrow at 3pm"))
    )
    await say(customer, "1")  # the first time offered, as a customer on SMS would pick it
    assert offered[0]
    (booked,) = await say(customer, "yes")
    assert booked.startswith("Booked:")
    customer_id = await customer.customer_id()
    (appointment,) = await customer.parts.scheduling.list_for_customer(customer_id)
    assert appointment.device == device
    assert appointment.notes == f"Tried ({guide.title}): {', '.join(record['tried'])}"


async def test_go_back_and_skip(customer: Customer) -> None:
    router = GUIDES["router"]
    await say(customer, "my wifi keeps dropping")
    assert await say(customer, "No") == [first_line(router, "lights")]
    assert await say(customer, replies.GO_BACK) == [first_line(router, "restart")]
    assert await say(customer, replies.SKIP) == [first_line(router, "lights")]


async def test_an_unknown_device_is_asked_with_choices(customer: Customer) -> None:
    assert await say(customer, "something's wrong with my gadget") == [
        replies.which_device(()).text
    ]
    assert await say(customer, GUIDES["printer"].title) == [
        first_line(GUIDES["printer"], GUIDES["printer"].start)
    ]


async def test_a_walk_left_half_way_is_recorded_as_abandoned(customer: Customer) -> None:
    await say(customer, "my wifi keeps dropping")
    await say(customer, "No")
    assert await say(customer, "cancel") == [replies.CANCELLED.text]
    record = await troubleshooting_record(customer)
    assert (record["device"], record["tried"], record["outcome"]) == (
        "router",
        ["restart"],
        "abandoned",
    )


async def test_three_answers_that_fit_nothing_offer_a_person(customer: Customer) -> None:
    await say(customer, "my wifi keeps dropping")
    assert await say(customer, "the cat sat on it")  # asked again
    await say(customer, "meh")
    assert await say(customer, "whatever") == [replies.OFFER_PERSON_INSTEAD.text]
    assert (await troubleshooting_record(customer))["outcome"] == "abandoned"
