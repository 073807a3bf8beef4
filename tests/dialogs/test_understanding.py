"""Dialog ring: what the bot does with what it understood, and with what it did not."""

from __future__ import annotations

import pytest

from channels import replies
from nlu.recognizer import Entities, Intent, Recognition
from tests.dialogs.test_order_status import CHANNELS, STATUS_123456, Customer
from troubleshooting.guides import load_guides


class Scripted:
    """A recogniser that answers what the test says, to reach each confidence case."""

    def __init__(self, recognition: Recognition) -> None:
        self.recognition = recognition

    async def recognize(self, text: str, **_: object) -> Recognition:
        return self.recognition


def scripted(customer: Customer, recognition: Recognition) -> None:
    customer.parts.bot._dialogs.dialog._recognizer = Scripted(recognition)  # type: ignore[attr-defined]


@pytest.fixture(params=CHANNELS)
def customer(request: pytest.FixtureRequest) -> Customer:
    return Customer(request.param)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("wheres my stuff", [replies.ASK_ORDER_NUMBER.text]),
        ("wher is my ordr", [replies.ASK_ORDER_NUMBER.text]),
        ("thanks", [replies.YOU_ARE_WELCOME.text]),
        ("bye", [replies.GOODBYE.text]),
        ("my phone stopped working",
         [load_guides()["phone"].steps["restart"].say + "\nDid that fix it?"]),
        ("can someone come and mount my TV on Friday?",
         [replies.ASK_ADDRESS.text]),
        ("I want to return my order", [replies.NOT_UNDERSTOOD.text]),
        ("I need to change my delivery address", [replies.NOT_UNDERSTOOD.text]),
        # Upset, and asking for something the bot can do: a person offered, then the answer.
        ("your service is terrible, where is order 123456??",
         [replies.FRUSTRATION_OFFER.text, STATUS_123456]),
    ],
)  # fmt: skip
async def test_customers_as_they_really_write(
    customer: Customer, text: str, answer: list[str]
) -> None:
    assert await customer.say(text) == answer


async def test_a_phone_number_is_not_looked_up_as_an_order(customer: Customer) -> None:
    await customer.say("where is my order")
    assert await customer.say("07700 900123") == [replies.ORDER_NUMBER_FORMAT.text]
    assert await customer.say("123456") == [STATUS_123456]


async def test_two_close_tasks_make_the_bot_ask_which(customer: Customer) -> None:
    close = ((Intent.BOOK_APPOINTMENT, 0.38), (Intent.NONE, 0.1))
    scripted(customer, Recognition(Intent.ORDER_STATUS, 0.41, close))
    assert await customer.say("my tv thing") == [
        "Do you want to check an order, or book an appointment?"
    ]
    # The choice picked is taken as it is, whatever the recogniser would make of it.
    scripted(customer, Recognition(Intent.NONE, 0.9))
    assert await customer.say("Check an order") == [replies.ASK_ORDER_NUMBER.text]


async def test_low_confidence_says_what_the_bot_can_do_and_twice_offers_a_person(
    customer: Customer,
) -> None:
    scripted(customer, Recognition(Intent.ORDER_STATUS, 0.2))
    assert await customer.say("hmm the thing") == [replies.NOT_UNDERSTOOD.text]
    assert await customer.say("the other thing") == [replies.NOT_UNDERSTOOD_AGAIN.text]
    # Understood once: the count starts again.
    scripted(customer, Recognition(Intent.THANKS, 0.9))
    await customer.say("thanks")
    scripted(customer, Recognition(Intent.NONE, 0.9))
    assert await customer.say("blah") == [replies.NOT_UNDERSTOOD.text]


async def test_an_unsure_interruption_does_not_end_the_task(customer: Customer) -> None:
    await customer.say("where is my order")
    scripted(customer, Recognition(Intent.CANCEL, 0.45, entities=Entities()))
    assert await customer.say("stop maybe") == [replies.ORDER_NUMBER_FORMAT.text]
    scripted(customer, Recognition(Intent.CANCEL, 0.95))
    assert await customer.say("cancel") == [replies.CANCELLED.text]


class Counting:
    """A recogniser that counts what it was asked (with CLU, each is a paid call): it
    takes "where is my order" for the order status, and anything else for a sure cancel."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def recognize(self, text: str, **_: object) -> Recognition:
        self.asked.append(text)
        if text == "where is my order":
            return Recognition(Intent.ORDER_STATUS, 0.99)
        return Recognition(Intent.CANCEL, 0.99)


async def test_an_order_number_answering_the_question_is_not_sent_to_the_recogniser(
    customer: Customer,
) -> None:
    counting = Counting()
    customer.parts.bot._dialogs.dialog._recognizer = counting  # type: ignore[attr-defined]
    await customer.say("where is my order")
    # The number answers the question, however sure the recogniser would be of a cancel.
    assert await customer.say("it's 123456") == [STATUS_123456]
    assert counting.asked == ["where is my order"]
    await customer.say("where is my order")
    assert await customer.say("stop") == [replies.CANCELLED.text]
    assert counting.asked == ["where is my order", "where is my order", "stop"]
