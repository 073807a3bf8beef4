"""The customer's language over HTTP: from the channel's locale, from the message, asked
for, and followed to another channel after linking. (Replies in each language come with
the message catalogs; here the choice the bot keeps is what is checked.)"""

from __future__ import annotations

from tests.conftest import make_settings, serve_bot_parts, stored_customer
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
