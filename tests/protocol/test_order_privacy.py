"""Reading other customers' orders: guessing numbers is limited, and proof can be required."""

from __future__ import annotations

import asyncio

from channels import replies
from tests.conftest import make_settings, serve_bot, texts
from tools.local_channel import ChannelUser, LocalChannel

STATUS_123456 = "Your order 123456 is out for delivery and expected by 1 PM today."


def not_found(text: str) -> bool:
    return text.startswith("I couldn't find an order with the number")


async def test_guessing_order_numbers_pauses_lookups_for_the_customer() -> None:
    async with serve_bot(make_settings()) as bot_url, LocalChannel(bot_url) as channel:
        guesser = ChannelUser("guesser", "Guesser")
        conversation = channel.conversation(guesser)
        said = [texts(await conversation.say(f"where is order {990000 + n}"))[0] for n in range(20)]
        assert sum(map(not_found, said)) == 5
        assert said[5:] == [replies.ORDER_LOOKUPS_PAUSED.text] * 15
        # A real number is not shown either, nor in a new conversation of the same account.
        assert texts(await conversation.say("where is order 123456")) == [
            replies.ORDER_LOOKUPS_PAUSED.text
        ]
        again = channel.conversation(guesser)
        assert texts(await again.say("where is order 123456")) == [
            replies.ORDER_LOOKUPS_PAUSED.text
        ]
        # Somebody else is not affected.
        assert texts(await channel.conversation().say("where is order 123456")) == [STATUS_123456]


async def test_a_burst_of_guesses_at_once_is_limited_too() -> None:
    async with serve_bot(make_settings()) as bot_url, LocalChannel(bot_url) as channel:
        conversation = channel.conversation()
        await asyncio.gather(*(conversation.say(f"where is order {880000 + n}") for n in range(30)))
        said = texts(channel.received(conversation.id))
        assert sum(map(not_found, said)) == 5
        assert said.count(replies.ORDER_LOOKUPS_PAUSED.text) == 25


async def test_with_proof_required_an_order_is_shown_to_who_knows_its_email_or_postcode() -> None:
    settings = make_settings(ORDER_PROOF_REQUIRED=True)
    async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
        stranger = channel.conversation()
        assert texts(await stranger.say("where is order 123456")) == [replies.ASK_ORDER_PROOF.text]
        assert texts(await stranger.say("someone@example.com")) == [
            replies.ORDER_PROOF_REFUSED.text
        ]

        owner = channel.conversation()
        assert texts(await owner.say("where is order 123456")) == [replies.ASK_ORDER_PROOF.text]
        assert texts(await owner.say("It's Alex.Morgan@example.com.")) == [STATUS_123456]
        # Proven once: not asked again.
        assert texts(await owner.say("where is order 123456")) == [STATUS_123456]

        by_postcode = channel.conversation()
        await by_postcode.say("where is order 456789")
        said = texts(await by_postcode.say("sw1a 1aa"))
        assert said[0].startswith("Your order 456789 is delivered")
