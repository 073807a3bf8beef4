"""Protocol ring: customers writing a language the bot does not speak, through Azure AI
Translator (TRANSLATOR_ENDPOINT), here a local stand-in with Translator's documented
request and response shapes (tests/translator_api.py): success, too slow, failing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from channels import replies
from config import ConfigError
from tests.conftest import make_settings, serve, serve_bot_parts, stored_customer, texts
from tests.protocol.test_handoff import (
    ANA,
    Desk,
    card_id_of,
    case_id_of,
    handoff_settings,
    open_desk,
    take,
)
from tests.translator_api import KEY, REGION, StandIn
from tools.local_channel import LocalChannel

ITALIAN_ORDER = "dov'è il mio ordine 123456?"
STATUS = "Your order 123456 is out for delivery and expected by 1 PM today."


@asynccontextmanager
async def translator() -> AsyncIterator[tuple[StandIn, str]]:
    stand_in = StandIn()
    async with serve(stand_in.app()) as url:
        yield stand_in, url


def with_translator(url: str, **values: object) -> dict:
    return {
        "TRANSLATOR_ENDPOINT": url,
        "TRANSLATOR_KEY": KEY,
        "TRANSLATOR_REGION": REGION,
        "TRANSLATOR_DEADLINE": 1.0,
        **values,
    }


async def test_a_customer_writing_italian_is_understood_and_answered_in_italian() -> None:
    async with (
        translator() as (stand_in, url),
        serve_bot_parts(make_settings(**with_translator(url))) as (bot_url, parts),
        LocalChannel(bot_url) as web,
    ):
        customer = web.conversation()
        # The stand-in marks what its phrasebook does not know with the target language.
        assert texts(await customer.say(ITALIAN_ORDER)) == [f"[it] {STATUS}"]
        asked, answered = stand_in.requests
        # Italian is understood through Spanish, and put into English for the agents.
        assert asked["query"].getall("to") == ["es", "en"] and "from" not in asked["query"]
        assert asked["headers"]["Ocp-Apim-Subscription-Key"] == KEY
        assert asked["headers"]["Ocp-Apim-Subscription-Region"] == REGION
        assert answered["query"]["from"] == "en" and answered["query"].getall("to") == ["it"]
        # A short reply keeps the conversation in Italian.
        thanks = texts(await customer.say("grazie mille"))
        assert thanks and all(text.startswith("[it] ") for text in thanks)
        _, context = await stored_customer(parts.documents, "webchat", customer.user.id)
    assert context["preferences"]["language"] == "it"


async def test_the_four_languages_never_go_through_the_translator() -> None:
    async with (
        translator() as (stand_in, url),
        serve_bot_parts(make_settings(**with_translator(url))) as (bot_url, _),
        LocalChannel(bot_url) as web,
    ):
        spanish = texts(await web.conversation().say("¿dónde está mi pedido 123456?"))
        english = texts(await web.conversation().say("where is my order 123456?"))
    assert spanish[0].startswith("Tu pedido 123456") and english == [STATUS]
    assert stand_in.requests == []


@pytest.mark.parametrize(
    ("failures", "what"),
    [
        (["slow", "slow"], "too slow"),
        ([500, 503], "failing"),
        ([401, 401], "refusing the key"),
        (["ok", 500, 500], "failing on the reply"),
    ],
)
async def test_when_translator_fails_the_customer_is_answered_in_english_with_an_apology(
    failures: list, what: str
) -> None:
    async with (
        translator() as (stand_in, url),
        serve_bot_parts(make_settings(**with_translator(url, TRANSLATOR_DEADLINE=0.5))) as (
            bot_url,
            _,
        ),
        LocalChannel(bot_url) as web,
    ):
        stand_in.failures = list(failures)
        answer = texts(await web.conversation().say(ITALIAN_ORDER))
    assert answer[0] == replies.CANNOT_TRANSLATE.text, what
    assert len(answer) > 1 and not any("[it]" in text for text in answer), answer


async def test_the_agent_reads_the_customer_in_italian_and_in_english() -> None:
    async with translator() as (_, url):
        settings = handoff_settings(**with_translator(url))
        async with (
            serve_bot_parts(settings) as (bot_url, parts),
            LocalChannel(bot_url, "msteams") as teams,
            LocalChannel(bot_url, "webchat") as web,
        ):
            desk = Desk(teams)
            await open_desk(desk)
            customer = web.conversation()
            await customer.say("vorrei parlare con una persona")
            card_id = card_id_of(desk)
            posted = next(c for c in desk.cards() if c["id"] == card_id)
            case = await parts.handoff.get(case_id_of(posted["attachments"][0]["content"]))
            assert case is not None
            assert ("Language", "Italian") in [tuple(fact) for fact in case.facts]
            assert "vorrei parlare con una persona [English: I would like to talk to a person]" in [
                line.text for line in case.transcript
            ]
            await take(desk, ANA, card_id)
            await customer.say("il pacco è arrivato rotto")
            assert desk.thread_texts(card_id)[-1].endswith(
                "il pacco è arrivato rotto [English: the parcel arrived broken]"
            )


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"TRANSLATOR_REGION": "westeurope"}, "TRANSLATOR_RESOURCE_ID"),
        ({"TRANSLATOR_RESOURCE_ID": "/subscriptions/x"}, "TRANSLATOR_REGION"),
        ({"TRANSLATOR_KEY": "k", "TRANSLATOR_DEADLINE": 0}, "TRANSLATOR_DEADLINE"),
        ({"TRANSLATOR_KEY": "k", "TRANSLATOR_ENDPOINT": "not a url"}, "TRANSLATOR_ENDPOINT"),
    ],
)
def test_bad_translator_settings_are_refused_by_name(values: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        make_settings(**{"TRANSLATOR_ENDPOINT": "https://translator.example", **values})
