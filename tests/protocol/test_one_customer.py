"""One customer across channels, over HTTP, on every storage (memory, SQLite, Cosmos DB)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from app import BotParts
from channels import replies
from config import Settings
from customers.accounts import sign_customer_id
from customers.context import IDENTIFIER_AND_TASK_FIELDS, CustomerContext
from customers.link_codes import MAX_LINK_TRIES_PER_MINUTE
from dialogs.clock import Clock
from tests.conftest import (
    MovableClock,
    cosmos_settings,
    everything_stored,
    fixed_clock,
    make_settings,
    serve_bot_parts,
    stored_customer,
    texts,
)
from tools.local_channel import ChannelUser, Conversation, LocalChannel

STATUS_123456 = "Your order 123456 is out for delivery and expected by 1 PM today."
_CODE = re.compile(r"Your link code is ([A-Z0-9]{3}-[A-Z0-9]{3})")


@pytest.fixture(params=["memory", "sqlite", "cosmos"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    extra = {"CUSTOMER_ID_SIGNING_KEY": "test-signing-key"}
    if request.param == "cosmos":
        return cosmos_settings(request.getfixturevalue("cosmos_server"), **extra)
    return make_settings(STORAGE=request.param, DATA_DIR=str(tmp_path / "data"), **extra)


@asynccontextmanager
async def web_and_teams(
    settings: Settings, clock: Clock = fixed_clock
) -> AsyncIterator[tuple[BotParts, LocalChannel, LocalChannel]]:
    """The bot, and a web chat and a Teams channel talking to it."""
    async with (
        serve_bot_parts(settings, clock) as (bot_url, parts),
        LocalChannel(bot_url, "webchat") as web,
        LocalChannel(bot_url, "msteams") as teams,
    ):
        yield parts, web, teams


async def link_code(conversation: Conversation) -> str:
    answer = texts(await conversation.say("link another channel"))
    match = _CODE.search(answer[0])
    assert match, answer
    return match.group(1)


async def test_an_order_asked_on_web_chat_is_offered_on_teams_after_linking(
    settings: Settings,
) -> None:
    async with web_and_teams(settings) as (_, web, teams):
        on_web = web.conversation(ChannelUser("web-visitor-1", "Visitor"))
        assert texts(await on_web.say("where is order 123456")) == [STATUS_123456]
        code = await link_code(on_web)
        assert not code.replace("-", "").isdigit()

        on_teams = teams.conversation(ChannelUser("29:teams-user", "Alex"))
        linked = texts(await on_teams.say(f"link {code}"))
        assert linked[0] == replies.LINKED.text
        # Linking also offers to pick up what was going on elsewhere.
        assert linked[1].startswith("Welcome back! On web chat you were checking order 123456.")
        assert texts(await on_teams.say("no")) == [replies.NOT_RESUMING.text]

        offer = texts(await on_teams.say("where is my order?"))
        assert offer[0].startswith("Is this about order 123456?")
        assert texts(await on_teams.say("yes")) == [STATUS_123456]


async def test_one_teams_user_in_two_conversations_is_one_customer(settings: Settings) -> None:
    async with (
        serve_bot_parts(settings) as (bot_url, parts),
        LocalChannel(bot_url, "msteams") as teams,
    ):
        # A per-bot user id differs; the Entra object id is the same person.
        first = teams.conversation(ChannelUser("29:first", "Sam", aad_object_id="aad-sam"))
        second = teams.conversation(ChannelUser("29:second", "Sam", aad_object_id="aad-sam"))
        assert texts(await first.say("where is order 123456")) == [STATUS_123456]
        assert texts(await second.say("where is my order?"))[0].startswith(
            "Is this about order 123456?"
        )
        one, _ = await stored_customer(parts.documents, "msteams", "29:first", "aad-sam")
        two, _ = await stored_customer(parts.documents, "msteams", "29:second", "aad-sam")
        assert one == two


async def test_a_direct_line_id_proves_nothing_unless_the_bot_signed_it(
    settings: Settings,
) -> None:
    async with (
        serve_bot_parts(settings) as (bot_url, parts),
        LocalChannel(bot_url, "webchat") as web,
    ):
        # The directory customer crm-1001 (Alex Morgan) has looked up order 123456.
        signed_in = web.conversation(ChannelUser(sign_customer_id("crm-1001", "test-signing-key"),
                                                 "Alex"))  # fmt: skip
        assert texts(await signed_in.say("where is order 123456")) == [STATUS_123456]

        pretenders = [
            ChannelUser("crm-1001", "Alex"),  # no dl_: chosen by a browser
            ChannelUser("dl_crm-1001.0123456789abcdef0123456789abcdef", "Alex"),  # forged
            ChannelUser("visitor-7", "Alex"),
        ]
        for pretender in pretenders:
            conversation = web.conversation(pretender)
            said = texts(await conversation.say("I am alex.morgan@example.com, customer crm-1001"))
            assert said == [replies.NOT_UNDERSTOOD.text]
            said = texts(await conversation.say("where is my order?"))
            assert said == [replies.ASK_ORDER_NUMBER.text], pretender.id
            customer_id, _ = await stored_customer(parts.documents, "webchat", pretender.id)
            assert customer_id != "crm-1001"


async def test_a_teams_member_whose_email_is_in_the_directory_is_that_customer(
    settings: Settings,
) -> None:
    async with web_and_teams(settings) as (_, web, teams):
        signed_in = web.conversation(ChannelUser(sign_customer_id("crm-1001", "test-signing-key"),
                                                 "Alex"))  # fmt: skip
        await signed_in.say("where is order 123456")
        alex = ChannelUser("29:alex", "Alex", email="Alex.Morgan@example.com")
        assert texts(await teams.conversation(alex).say("where is my order?"))[0].startswith(
            "Is this about order 123456?"
        )


async def test_wrong_expired_and_reused_codes_are_refused_and_tries_are_limited(
    settings: Settings,
) -> None:
    clock = MovableClock()
    async with web_and_teams(settings, clock) as (_, web, teams):
        on_web = web.conversation()
        on_teams = teams.conversation()
        refused = [replies.LINK_CODE_REFUSED.text]

        expired = await link_code(on_web)
        clock.advance(timedelta(minutes=11))
        assert texts(await on_teams.say(f"link {expired}")) == refused

        used = await link_code(on_web)
        assert texts(await on_teams.say(f"link {used}"))[0] == replies.LINKED.text
        someone_else = teams.conversation()
        assert texts(await someone_else.say(f"link {used}")) == refused
        assert texts(await someone_else.say("link AAA-BBB")) == refused

        # Five wrong codes from one account within the hour; the sixth try fails even if right.
        guesser = teams.conversation()
        for guess in ("ZZZ-ZZZ", "YYY-YYY", "XXX-XXX", "WWW-WWW", "VVV-VVV"):
            assert texts(await guesser.say(f"link {guess}")) == refused
        right = await link_code(on_web)
        assert texts(await guesser.say(f"link {right}")) == [replies.LINK_TOO_MANY_TRIES.text]
        clock.advance(timedelta(hours=1, minutes=1))
        fresh = await link_code(on_web)
        assert texts(await guesser.say(f"link {fresh}"))[0] == replies.LINKED.text


async def test_a_burst_of_link_codes_is_limited_like_codes_sent_one_by_one(
    settings: Settings,
) -> None:
    async with web_and_teams(settings) as (_, web, teams):
        victim = web.conversation()
        assert texts(await victim.say("where is order 123456")) == [STATUS_123456]
        right = await link_code(victim)

        attacker = teams.conversation()
        guesses = [f"link {n:03d}-ABC" for n in range(100)]
        await asyncio.gather(*(attacker.say(guess) for guess in guesses))
        said = texts(teams.received(attacker.id))
        # Every try was counted before its code was looked at: five were evaluated.
        assert len(said) == 100
        assert said.count(replies.LINK_CODE_REFUSED.text) == 5
        assert said.count(replies.LINK_TOO_MANY_TRIES.text) == 95
        assert texts(await attacker.say(f"link {right}")) == [replies.LINK_TOO_MANY_TRIES.text]
        assert texts(await attacker.say("where is my order?")) == [replies.ASK_ORDER_NUMBER.text]
        # The victim's code still works for the victim's other channel.
        other = teams.conversation()
        assert texts(await other.say(f"link {right}"))[0] == replies.LINKED.text


async def test_link_tries_from_many_accounts_at_once_are_limited_together(
    settings: Settings,
) -> None:
    clock = MovableClock()
    async with web_and_teams(settings, clock) as (_, web, teams):
        owner = web.conversation()
        right = await link_code(owner)
        # New web chat accounts cost nothing: one guess from each of many.
        attackers = [web.conversation() for _ in range(MAX_LINK_TRIES_PER_MINUTE + 20)]
        answers = await asyncio.gather(*(a.say("link 222-ABC") for a in attackers))
        said = [text for answer in answers for text in texts(answer)]
        evaluated = said.count(replies.LINK_CODE_REFUSED.text)
        # Tries that could not be counted (too much contention on the count) are refused too.
        assert said.count(replies.LINKING_PAUSED.text) == len(attackers) - evaluated >= 20
        for _ in range(MAX_LINK_TRIES_PER_MINUTE + 1):  # then one at a time, up to the limit
            said = texts(await web.conversation().say("link 333-ABC"))
            if said != [replies.LINK_CODE_REFUSED.text]:
                break
            evaluated += 1
        assert said == [replies.LINKING_PAUSED.text]
        assert evaluated <= MAX_LINK_TRIES_PER_MINUTE
        # Within the minute even the right code waits; the next minute it links.
        mine = teams.conversation()
        assert texts(await mine.say(f"link {right}")) == [replies.LINKING_PAUSED.text]
        clock.advance(timedelta(minutes=1))
        assert texts(await mine.say(f"link {right}"))[0] == replies.LINKED.text


async def test_a_task_begun_on_web_chat_is_offered_on_teams(settings: Settings) -> None:
    async with web_and_teams(settings) as (_, web, teams):
        customer_on_teams = ChannelUser("29:kim", "Kim")
        on_web = web.conversation()
        code = await link_code(on_web)
        await teams.conversation(customer_on_teams).say(f"link {code}")

        assert texts(await on_web.say("where is my order?")) == [replies.ASK_ORDER_NUMBER.text]
        # The customer leaves web chat without giving the number and opens Teams.
        on_teams = teams.conversation(customer_on_teams)
        welcome = texts(await on_teams.join())
        assert welcome[0].startswith(
            "Welcome back! On web chat you were checking an order. Want to continue?"
        )
        assert texts(await on_teams.say("yes")) == [replies.ASK_ORDER_NUMBER.text]
        assert texts(await on_teams.say("123456")) == [STATUS_123456]


async def test_a_booking_begun_on_web_chat_is_finished_on_teams(settings: Settings) -> None:
    async with web_and_teams(settings) as (_, web, teams):
        customer_on_teams = ChannelUser("29:ola", "Ola")
        on_web = web.conversation()
        await teams.conversation(customer_on_teams).say(f"link {await link_code(on_web)}")

        asked = texts(await on_web.say("can someone come and mount my TV on Friday?"))
        assert asked == [replies.ASK_ADDRESS.text]
        # The customer leaves web chat before giving the address and opens Teams.
        on_teams = teams.conversation(customer_on_teams)
        welcome = texts(await on_teams.join())
        assert welcome[0].startswith(
            "Welcome back! On web chat you were booking a home installation for Fri 27 Nov."
        )
        # The address was never stored with the open task: it is asked again here.
        assert texts(await on_teams.say("yes")) == [replies.ASK_ADDRESS.text]
        offered = texts(await on_teams.say("1 High Street, London N1 2AB"))
        assert offered[0].startswith("Here are the nearest free times for a home installation")
        await on_teams.say("Fri 27 Nov, 12:00 PM")
        (booked,) = texts(await on_teams.say("yes"))
        assert booked.startswith("Booked: a home installation at your home on Fri 27 Nov")
        # One customer: the booking is theirs on web chat too (where the question about the
        # address is still open until the customer leaves it).
        reference = re.search(r"AP-[A-Z0-9]{6}", booked).group()
        assert texts(await on_web.say("cancel")) == [replies.CANCELLED.text]
        assert any(reference in line for line in texts(await on_web.say("when is my appointment?")))


async def test_a_greeting_on_another_channel_offers_to_continue_once(
    settings: Settings,
) -> None:
    async with web_and_teams(settings) as (_, web, teams):
        on_web = web.conversation()
        on_teams = teams.conversation(ChannelUser("29:noa", "Noa"))
        await on_teams.say(f"link {await link_code(on_web)}")
        assert texts(await on_web.say("where is my order?")) == [replies.ASK_ORDER_NUMBER.text]

        # No welcome on this channel (Teams sent none): the first words get the offer.
        offer = texts(await on_teams.say("hello"))
        assert offer[0].startswith("Welcome back! On web chat you were checking an order.")
        assert texts(await on_teams.say("no")) == [replies.NOT_RESUMING.text]
        assert texts(await on_teams.say("hi")) == [replies.WELCOME.text]


async def test_delete_my_data_forgets_the_customer_everywhere(settings: Settings) -> None:
    async with web_and_teams(settings) as (parts, web, teams):
        web_user = ChannelUser("visitor-forget", "Lee")
        teams_user = ChannelUser("29:lee", "Lee", aad_object_id="aad-lee")
        on_web = web.conversation(web_user)
        assert texts(await on_web.say("where is order 123456")) == [STATUS_123456]
        code = await link_code(on_web)
        on_teams = teams.conversation(teams_user)
        await on_teams.say(f"link {code}")
        customer_id, _ = await stored_customer(parts.documents, "webchat", web_user.id)

        assert texts(await on_teams.say("delete my data"))[0].startswith(
            replies.CONFIRM_DELETE.text
        )
        assert texts(await on_teams.say("yes")) == [replies.DATA_DELETED.text]

        stored = await everything_stored(parts.documents)
        for trace in (customer_id, web_user.id, "aad-lee", "123456", on_web.id, on_teams.id):
            assert trace not in stored, trace

        # Neither account knows the order any more: each is a new customer.
        for conversation in (web.conversation(web_user), teams.conversation(teams_user)):
            assert texts(await conversation.say("where is my order?")) == [
                replies.ASK_ORDER_NUMBER.text
            ]


async def test_one_customer_on_two_channels_at_once_loses_nothing(settings: Settings) -> None:
    async with web_and_teams(settings) as (parts, web, teams):
        web_user, teams_user = ChannelUser("visitor-both", "Ari"), ChannelUser("29:ari", "Ari")
        on_web = web.conversation(web_user)
        on_teams = teams.conversation(teams_user)
        await on_teams.say(f"link {await link_code(on_web)}")

        await asyncio.gather(
            *(on_web.say("where is order 123456") for _ in range(10)),
            *(on_teams.say("where is order 234567") for _ in range(10)),
        )
        for channel, conversation in ((web, on_web), (teams, on_teams)):
            answers = texts(channel.received(conversation.id))[-10:]
            assert all(a.startswith("Your order ") for a in answers), answers
        _, context = await stored_customer(parts.documents, "webchat", web_user.id)
        # 1 + 1 messages before (link request, link code), 20 at once.
        assert context["messageCount"] == 21
        accounts = {record["channel"] for record in context["channelAccounts"]}
        assert accounts == {"webchat", "msteams"}
        assert len(context["lastInboundAt"]) == 2
        assert context["preferences"]["language"] == "en"


async def test_unlink_undoes_the_link_for_this_channel_only(settings: Settings) -> None:
    async with web_and_teams(settings) as (_, web, teams):
        on_web = web.conversation()
        assert texts(await on_web.say("where is order 123456")) == [STATUS_123456]
        on_teams = teams.conversation()
        await on_teams.say(f"link {await link_code(on_web)}")
        await on_teams.say("no")  # declines the resume offer

        assert texts(await on_teams.say("unlink")) == [replies.UNLINKED.text]
        assert texts(await on_teams.say("where is my order?")) == [replies.ASK_ORDER_NUMBER.text]
        assert texts(await on_web.say("where is my order?"))[0].startswith(
            "Is this about order 123456?"
        )


async def test_a_restricted_channel_stores_only_identifiers_and_task_state(
    tmp_path: Path,
) -> None:
    settings = make_settings(RESTRICTED_CHANNELS="facebook")
    async with (
        serve_bot_parts(settings) as (bot_url, parts),
        LocalChannel(bot_url, "facebook") as messenger,
    ):
        conversation = messenger.conversation(ChannelUser("1254459154682919", "Jo"))
        # Each message would store something personal from an open channel: the order
        # looked up and where, a missed number, the language, the time zone.
        said = await conversation.say("where is order 123456", localTimezone="Asia/Tokyo")
        assert texts(said) == [STATUS_123456.replace("1 PM", "10 PM")]
        await conversation.say("where is order 999999")
        await conversation.say("no")
        _, context = await stored_customer(parts.documents, "facebook", "1254459154682919")
    fresh = CustomerContext().to_json()
    kept = {CustomerContext.model_fields[name].alias for name in IDENTIFIER_AND_TASK_FIELDS}
    # Everything else is as it was before the customer wrote: nothing was kept.
    assert {name: value for name, value in context.items() if name not in kept} == {
        name: value for name, value in fresh.items() if name not in kept
    }
    assert context["channelAccounts"][0]["channel"] == "facebook"
    assert context["lastIntent"] == "orderStatus"
    assert context["messageCount"] == 3


async def test_personal_data_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    async with (
        serve_bot_parts(make_settings()) as (bot_url, _),
        LocalChannel(bot_url, "webchat") as web,
        LocalChannel(bot_url, "msteams") as teams,
    ):
        on_web = web.conversation(ChannelUser("visitor-logs", "Robin"))
        await on_web.say("I'm robin@example.com, call me on +1 206 555 0199")
        await on_web.say("where is order 123456")
        alex = ChannelUser("29:alex-logs", "Alex", email="alex.morgan@example.com")
        await teams.conversation(alex).say(f"link {await link_code(on_web)}")
    for personal in ("robin@example.com", "555 0199", "alex.morgan@example.com", "Robin"):
        assert personal not in caplog.text


@pytest.fixture(params=["sqlite", "cosmos"])
def shared_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings two app instances can share: one database."""
    extra = {"CUSTOMER_ID_SIGNING_KEY": "test-signing-key"}
    if request.param == "cosmos":
        return cosmos_settings(request.getfixturevalue("cosmos_server"), **extra)
    return make_settings(STORAGE="sqlite", DATA_DIR=str(tmp_path / "data"), **extra)


@asynccontextmanager
async def two_instances(
    settings: Settings,
) -> AsyncIterator[tuple[BotParts, LocalChannel, LocalChannel, LocalChannel]]:
    """Two instances of the bot over one database, as behind a load balancer: instance A
    on web chat and Teams, instance B on web chat."""
    async with (
        web_and_teams(settings) as (parts, web_a, teams_a),
        serve_bot_parts(settings) as (bot_url_b, _),
        LocalChannel(bot_url_b, "webchat") as web_b,
    ):
        yield parts, web_a, teams_a, web_b


async def test_an_account_unlinked_on_another_instance_is_not_remembered_here(
    shared_settings: Settings,
) -> None:
    async with two_instances(shared_settings) as (_, web_a, teams_a, web_b):
        on_web = web_a.conversation()
        assert texts(await on_web.say("where is order 123456")) == [STATUS_123456]
        await teams_a.conversation().say(f"link {await link_code(on_web)}")

        same_conversation_on_b = Conversation(web_b, on_web.user, on_web.id)
        assert texts(await same_conversation_on_b.say("unlink")) == [replies.UNLINKED.text]

        # Instance A had this account as the linked customer, who still knows the order.
        assert texts(await on_web.say("where is my order?")) == [replies.ASK_ORDER_NUMBER.text]


async def test_a_customer_forgotten_on_another_instance_is_not_brought_back_here(
    shared_settings: Settings,
) -> None:
    async with two_instances(shared_settings) as (parts, web_a, _, web_b):
        on_web = web_a.conversation()
        assert texts(await on_web.say("where is order 123456")) == [STATUS_123456]
        customer_id, _ = await stored_customer(parts.documents, "webchat", on_web.user.id)

        same_conversation_on_b = Conversation(web_b, on_web.user, on_web.id)
        await same_conversation_on_b.say("delete my data")
        assert texts(await same_conversation_on_b.say("yes")) == [replies.DATA_DELETED.text]

        assert texts(await on_web.say("where is my order?")) == [replies.ASK_ORDER_NUMBER.text]
        # A new customer now: nothing is stored under the forgotten one's id.
        assert customer_id not in await everything_stored(parts.documents)
        new_id, _ = await stored_customer(parts.documents, "webchat", on_web.user.id)
        assert new_id != customer_id


async def test_one_customer_writing_to_two_instances_at_once_loses_no_change(
    shared_settings: Settings,
) -> None:
    # Two instances over one database (SQLite or Cosmos DB), as behind a load balancer: their
    # turns for the same customer race to write the same documents; each write is checked
    # against what its turn read, so a conflict costs neither a reply nor an update.
    async with two_instances(shared_settings) as (parts, web_a, _, web_b):
        here = web_a.conversation()
        there = Conversation(web_b, here.user, web_b.conversation().id)
        numbers = ["123456", "234567", "112233"]
        await asyncio.gather(
            *(here.say(f"where is order {numbers[i % 3]}") for i in range(10)),
            *(there.say(f"where is order {numbers[i % 3]}") for i in range(10)),
        )
        for channel, conversation in ((web_a, here), (web_b, there)):
            answers = texts(channel.received(conversation.id))
            assert len(answers) == 10
            assert all(answer.startswith("Your order ") for answer in answers), answers
        _, context = await stored_customer(parts.documents, "webchat", here.user.id)
    assert context["messageCount"] == 20
    assert len(context["conversations"]) == 2
    assert context["lastOrderNumber"] in numbers
