"""The customer's language over HTTP: from the channel's locale, from the message, asked
for, and followed to another channel after linking. (Replies in each language come with
the message catalogs; here the choice the bot keeps is what is checked.)"""

from __future__ import annotations

import pytest

from channels import replies
from channels.text import catalog
from tests.conftest import make_settings, serve_bot_parts, stored_customer, texts
from tests.protocol.test_one_customer import link_code
from tools.local_channel import ChannelUser, LocalChannel


async def test_the_language_follows_locale_message_request_and_the_customer() -> None:
    async with (
        serve_bot_parts(make_settings()) as (url, parts),
        LocalChannel(url, "webchat") as web,
        LocalChannel(url, "msteams") as teams,
    ):
        customer = web.conversation(ChannelUser("web-lena", "Lena"))

        async def language() -> str:
            _, context = await stored_customer(parts.documents, "webchat", "web-lena")
            return context["preferences"]["language"]

        await customer.say("hallo", locale="de-DE")
        assert await language() == "de"  # the channel's locale
        await customer.say("ok", locale="en-US")
        assert await language() == "de"  # two letters say nothing: kept
        await customer.say("¿dónde está mi pedido 123456?", locale="de-DE")
        assert await language() == "es"  # the message is clearly Spanish
        code = await link_code(customer)  # "link another channel": clearly English
        assert await language() == "en"
        await customer.say("auf Deutsch bitte", locale="en-US")
        assert await language() == "de"  # asked for

        lena = ChannelUser("29:lena", "Lena")
        on_teams = teams.conversation(lena)
        await on_teams.say(f"link {code}", locale="en-US")
        await on_teams.say("ja", locale="en-US")
        _, context = await stored_customer(
            parts.documents, "msteams", lena.id, lena.teams_object_id()
        )
    assert context["preferences"]["language"] == "de"  # followed her to Teams


@pytest.mark.parametrize(
    ("locale", "said", "english"),
    [
        ("es-ES", "quiero hablar con un agente", "I want to talk to a person"),
        ("de-DE", "der fernseher hat keinen ton", "my tv has no sound"),
        ("fr-FR", "je voudrais prendre un rendez-vous", "I'd like to book an appointment"),
        ("es-MX", "quiero dejar de recibir avisos", "stop updates"),
    ],
)
async def test_each_language_is_understood_as_english_is(
    locale: str, said: str, english: str
) -> None:
    """The same request in Spanish, German or French starts the same task as in English,
    and is answered with the same replies in the customer's language."""
    async with serve_bot_parts(make_settings()) as (url, _), LocalChannel(url) as web:
        answer = texts(await web.conversation().say(said, locale=locale))
        in_english = texts(await web.conversation().say(english, locale="en-US"))
    translations = catalog(locale[:2])
    # Each line of these replies is one message of the catalog (a guide's step and question).
    expected = ["\n".join(translations.gettext(line) for line in t.split("\n")) for t in in_english]
    assert answer == expected
    assert answer != in_english
    assert in_english != [replies.NOT_UNDERSTOOD.text]
