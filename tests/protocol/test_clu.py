"""Azure CLU as the recogniser, against a local server speaking CLU's request and answer."""

from __future__ import annotations

import time

from channels import replies
from nlu.clu import CluRecognizer
from nlu.embedded import EmbeddedRecognizer
from nlu.recognizer import Intent
from tests.clu_api import KEY, CluServer, clu_server
from tests.conftest import make_settings, serve_bot, texts
from tools.local_channel import LocalChannel


async def test_clu_answers_with_its_own_intent_and_the_bots_entities() -> None:
    server = CluServer("bookAppointment")
    async with clu_server(server) as url:
        clu = CluRecognizer(url, KEY, "bot-project", "production", EmbeddedRecognizer.trained())
        await clu.open()
        try:
            recognition = await clu.recognize("hello, my tv on friday")
        finally:
            await clu.close()
    assert recognition.intent == Intent.BOOK_APPOINTMENT and recognition.confidence == 0.93
    assert recognition.runners_up[0] == (Intent.NONE, 0.04)
    assert recognition.entities.device == "tv" and recognition.entities.when
    [request] = server.requests
    assert request["key"] == KEY and request["query"]["api-version"] == "2023-04-01"
    assert request["body"]["parameters"]["projectName"] == "bot-project"
    assert request["body"]["parameters"]["deploymentName"] == "production"
    assert request["body"]["analysisInput"]["conversationItem"]["text"] == "hello, my tv on friday"


async def test_clu_slow_or_down_the_embedded_recogniser_answers_within_the_deadline() -> None:
    for failure in ("hang", "500"):
        server = CluServer("bookAppointment", failure)
        async with clu_server(server) as url:
            clu = CluRecognizer(url, KEY, "p", "d", EmbeddedRecognizer.trained(), deadline=0.3,
                                breaker_threshold=2)  # fmt: skip
            await clu.open()
            try:
                started = time.monotonic()
                recognition = await clu.recognize("where is my order")
                waited = time.monotonic() - started
                for _ in range(5):  # the circuit opens: CLU is not asked again for a while
                    await clu.recognize("where is my order")
            finally:
                await clu.close()
        assert recognition.intent == Intent.ORDER_STATUS  # the embedded answer, not CLU's
        assert waited < 0.3 * 2 + 0.5, failure  # two attempts of 0.3 s, then the fallback
        assert len(server.requests) <= 4, failure


async def test_the_bot_on_clu() -> None:
    server = CluServer("troubleshoot")
    async with clu_server(server) as url:
        settings = make_settings(NLU="clu", CLU_ENDPOINT=url, CLU_KEY=KEY, CLU_PROJECT="p",
                                 CLU_DEPLOYMENT="d")  # fmt: skip
        async with serve_bot(settings) as bot_url, LocalChannel(bot_url) as channel:
            said = texts(await channel.conversation().say("hello there"))
    # CLU's intent, the bot's own entities: no device in "hello there", so it asks which.
    assert said == [replies.which_device(()).text]
    assert server.requests
