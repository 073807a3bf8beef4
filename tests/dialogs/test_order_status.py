"""Dialog ring: the bot's conversations through botbuilder's TestAdapter, once per channel."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationReference,
    Entity,
    Mention,
)

from app import build_bot
from bots.turn_errors import turn_error_handler
from channels import replies
from config import Settings
from tests.conftest import NOW, fixed_clock, make_settings, stored_customer

CHANNELS = ["webchat", "msteams", "facebook"]
STATUS_123456 = "Your order 123456 is out for delivery and expected by 1 PM today."


class Customer:
    """One customer talking to the bot on one channel."""

    def __init__(self, channel_id: str, settings: Settings | None = None) -> None:
        self.parts = build_bot(settings or make_settings(), clock=fixed_clock)
        self.adapter = TestAdapter(
            self.parts.bot.on_turn, ConversationReference(channel_id=channel_id)
        )
        self.adapter.on_turn_error = turn_error_handler(
            self.parts.conversation_state, self.parts.storage_health
        )

    async def send(self, activity: Activity) -> list[Activity]:
        await self.adapter.receive_activity(activity)
        sent = list(self.adapter.activity_buffer)
        self.adapter.activity_buffer.clear()
        return sent

    async def say(self, text: str | None = None, **fields: Any) -> list[str]:
        """What the customer reads in reply: the texts of the bot's messages."""
        sent = await self.send(Activity(type=ActivityTypes.message, text=text, **fields))
        # The words of each message; a card that only illustrates them (Messenger) adds none.
        return [a.text for a in sent if a.type == ActivityTypes.message and a.text]

    async def stored_context(self) -> dict:
        return (await self._stored())[1]

    async def customer_id(self) -> str:
        return (await self._stored())[0]

    async def _stored(self) -> tuple[str, dict]:
        template = self.adapter.template
        return await stored_customer(
            self.parts.documents, template.channel_id, template.from_property.id
        )


@pytest.fixture(params=CHANNELS)
def customer(request: pytest.FixtureRequest) -> Customer:
    return Customer(request.param)


async def test_happy_path(customer: Customer) -> None:
    assert await customer.say("Where is my order?") == [replies.ASK_ORDER_NUMBER.text]
    sent = await customer.send(Activity(type=ActivityTypes.message, text="123456"))
    assert sent[0].type == ActivityTypes.typing  # before the order system is asked
    assert sent[1].text == STATUS_123456


async def test_the_dialog_state_is_traced_for_the_emulator_only() -> None:
    # The Emulator's inspector shows a "Bot State" trace of dialog memory; no other channel
    # shows traces, so none is made for them (its deep copy was a tenth of a turn).
    for channel, traced in (("emulator", True), ("webchat", False)):
        customer = Customer(channel)
        customer.adapter.send_trace_activities = True  # as the Emulator's adapter would
        sent = await customer.send(Activity(type=ActivityTypes.message, text="where is my order"))
        traces = [a for a in sent if a.type == ActivityTypes.trace]
        assert [a.text for a in sent if a.type == ActivityTypes.message] == [
            replies.ASK_ORDER_NUMBER.text
        ]
        assert [t.label for t in traces] == (["Bot State"] if traced else [])


async def test_the_order_number_in_the_first_message_is_used(customer: Customer) -> None:
    assert await customer.say("where is order #123-456?") == [STATUS_123456]


async def test_three_bad_numbers_then_a_person_is_offered(customer: Customer) -> None:
    await customer.say("where is my order")
    assert await customer.say("I don't know") == [replies.ORDER_NUMBER_FORMAT.text]
    assert await customer.say("12") == [replies.ORDER_NUMBER_FORMAT.text]
    offer = await customer.say("abc")
    assert offer[0].startswith(replies.OFFER_PERSON_AFTER_TRIES.text)
    assert await customer.say("yes") == [replies.TEAM_UNREACHABLE.text]
    assert (await customer.stored_context())["handoffRequestedAt"] == NOW.isoformat().replace(
        "+00:00", "Z"
    )


async def test_declining_the_person_ends_politely(customer: Customer) -> None:
    await customer.say("where is my order")
    for attempt in ("x", "y", "z"):
        await customer.say(attempt)
    assert await customer.say("no") == [replies.NOT_TRYING_AGAIN.text]
    assert await customer.say("hello") == [replies.WELCOME.text]


async def test_the_eta_is_told_in_the_customers_time_zone(customer: Customer) -> None:
    # 1 PM UTC is 10 PM in Tokyo; the channel names the zone (Web Chat sends it).
    assert await customer.say("where is order 123456", local_timezone="Asia/Tokyo") == [
        "Your order 123456 is out for delivery and expected by 10 PM today."
    ]


async def test_without_a_zone_name_the_local_timestamps_offset_is_used(
    customer: Customer,
) -> None:
    # The clock says 10 AM UTC: 7 PM at UTC+9, where 1 PM UTC is 10 PM the same day.
    sent_at = NOW.astimezone(timezone(timedelta(hours=9)))
    assert await customer.say("where is order 123456", local_timestamp=sent_at) == [
        "Your order 123456 is out for delivery and expected by 10 PM today."
    ]


async def test_an_answered_order_leaves_no_task_open(customer: Customer) -> None:
    await customer.say("where is my order")
    assert (await customer.stored_context())["openTask"]["what"] == "orderStatus"
    assert await customer.say("123456") == [STATUS_123456]
    assert (await customer.stored_context())["openTask"] is None


async def test_declining_another_try_leaves_no_task_open(customer: Customer) -> None:
    await customer.say("where is order 999999")
    assert await customer.say("no") == [replies.NOT_TRYING_AGAIN.text]
    assert (await customer.stored_context())["openTask"] is None


async def test_cancel_mid_dialog_ends_the_task(customer: Customer) -> None:
    await customer.say("where is my order")
    assert await customer.say("cancel") == [replies.CANCELLED.text]
    assert (await customer.stored_context())["openTask"] is None
    # The next number starts a new lookup instead of answering a stale prompt.
    assert await customer.say("help") == [replies.HELP.text]


async def test_help_mid_dialog_explains_and_asks_again(customer: Customer) -> None:
    await customer.say("where is my order")
    assert await customer.say("help") == [replies.HELP.text, replies.ASK_ORDER_NUMBER.text]
    assert (await customer.say("123456"))[-1] == STATUS_123456


async def test_asking_for_a_person_mid_dialog_is_acknowledged_and_recorded(
    customer: Customer,
) -> None:
    await customer.say("where is my order")
    assert await customer.say("can I talk to a real person") == [replies.TEAM_UNREACHABLE.text]
    context = await customer.stored_context()
    assert context["lastIntent"] == "humanHandoff"
    assert context["handoffRequestedAt"]


async def test_unknown_order_offers_another_try(customer: Customer) -> None:
    offer = await customer.say("where is order 999999")
    assert offer[-1].startswith(replies.order_not_found("999999").text)
    assert await customer.say("yes") == [replies.ASK_ORDER_NUMBER.text]
    assert "Your order 234567 is shipped" in (await customer.say("234567"))[-1]


async def test_unknown_order_answered_with_another_number(customer: Customer) -> None:
    await customer.say("where is order 999999")
    assert "Your order 112233 is in transit" in (await customer.say("try 112233"))[-1]


async def test_a_card_submit_mid_dialog_gives_the_order_number(customer: Customer) -> None:
    await customer.say("where is my order")
    assert await customer.say(value={"orderNumber": "123456"}) == [STATUS_123456]


async def test_an_attachment_gets_a_helpful_answer_and_the_question_stays_open(
    customer: Customer,
) -> None:
    await customer.say("where is my order")
    photo = Attachment(content_type="image/png", content_url="https://example.com/p.png")
    assert await customer.say(attachments=[photo]) == [replies.NO_TEXT.text]
    assert await customer.say("123456") == [STATUS_123456]


async def test_the_recent_order_is_offered_first(customer: Customer) -> None:
    await customer.say("123456")
    offer = await customer.say("where is my order?")
    assert offer[0].startswith("Is this about order 123456?")
    assert await customer.say("yes") == [STATUS_123456]


async def test_the_recent_order_offer_answered_with_another_number(customer: Customer) -> None:
    await customer.say("123456")
    await customer.say("where is my order?")
    assert "Your order 234567 is shipped" in (await customer.say("no, it's 234567"))[-1]
    context = await customer.stored_context()
    assert (context["lastOrderNumber"], context["lastIntent"]) == ("234567", "orderStatus")


async def test_a_failing_turn_apologises_and_the_next_message_starts_clean(
    customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(order_number: str) -> None:
        raise RuntimeError("bug in the order client")

    await customer.say("where is my order")
    monkeypatch.setattr(customer.parts.orders, "get_order", broken)
    assert await customer.say("123456") == [replies.TURN_FAILED.text]
    monkeypatch.undo()
    # The prompt was cleared with the failed turn: this starts over rather than re-failing.
    assert await customer.say("help") == [replies.HELP.text]


async def test_welcome_for_each_member_added_who_is_not_the_bot(customer: Customer) -> None:
    bot = customer.adapter.template.recipient
    sent = await customer.send(
        Activity(
            type=ActivityTypes.conversation_update,
            members_added=[ChannelAccount(id="alice"), ChannelAccount(id="bob"), bot],
        )
    )
    assert [a.text for a in sent] == [replies.WELCOME.text] * 2


async def test_teams_mention_of_the_bot_is_not_part_of_the_question() -> None:
    customer = Customer("msteams")
    bot = customer.adapter.template.recipient
    mention = Mention(mentioned=bot, text=f"<at>{bot.name}</at>", type="mention")
    said = await customer.say(
        f"<at>{bot.name}</at> where is my order?",
        entities=[Entity().deserialize(mention.serialize())],
    )
    assert said == [replies.ASK_ORDER_NUMBER.text]


async def test_on_sms_choices_are_numbered_and_a_number_picks_one() -> None:
    customer = Customer("sms")
    await customer.say("123456")
    offer = await customer.say("where is my order?")
    assert offer == ["Is this about order 123456?\n1. Yes\n2. No"]
    assert await customer.say("2") == [replies.ASK_ORDER_NUMBER.text]


async def test_a_card_submit_answers_a_yes_no_prompt() -> None:
    customer = Customer("webchat")
    await customer.say("123456")
    await customer.say("where is my order?")
    assert await customer.say(value={"choice": "Yes"}) == [STATUS_123456]


async def test_a_messenger_quick_reply_is_read_by_its_payload() -> None:
    customer = Customer("facebook")
    # The title was shortened to fit Messenger; the payload carries the whole choice.
    said = await customer.say(
        "Where is my…", channel_data={"message": {"quick_reply": {"payload": "Where is my order?"}}}
    )
    assert said == [replies.ASK_ORDER_NUMBER.text]


async def test_teams_gets_the_order_status_as_an_adaptive_card() -> None:
    customer = Customer("msteams")
    sent = await customer.send(Activity(type=ActivityTypes.message, text="where is order 123456"))
    status = sent[-1]
    assert status.text == STATUS_123456
    card = status.attachments[0]
    assert card.content_type == "application/vnd.microsoft.card.adaptive"
    assert card.content["body"][0]["text"] == "Order 123456"
