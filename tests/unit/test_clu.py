"""CLU as the recogniser, its call and its fallbacks, against a local stand-in for CLU."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from nlu.clu import CluRecognizer
from nlu.embedded import EmbeddedRecognizer
from nlu.recognizer import Intent
from tests.clu_api import KEY, CluServer, clu_server
from tests.conftest import NOW

FRIDAY_TV = "my tv is broken, can someone come on friday"


async def ask(server: CluServer, *texts: str, now=NOW, **options: object) -> list:  # type: ignore[no-untyped-def]
    """Recognises `texts` one after the other through a recogniser on `server`."""
    async with clu_server(server) as url:
        clu = CluRecognizer(url, KEY, "bot-project", "production",
                            EmbeddedRecognizer.trained(), **options)  # type: ignore[arg-type]  # fmt: skip
        await clu.open()
        try:
            return [await clu.recognize(text, now=now, time_zone="Asia/Tokyo") for text in texts]
        finally:
            await clu.close()
            await clu.close()  # closing twice is harmless (shutdown may)


def embedded(text: str, now=NOW, time_zone: str | None = "Asia/Tokyo"):  # type: ignore[no-untyped-def]
    return EmbeddedRecognizer.trained().recognize_now(text, now=now, time_zone=time_zone)


async def test_clu_is_asked_as_its_api_says_and_its_intents_ranked() -> None:
    server = CluServer("bookAppointment")
    [recognition] = await ask(server, f"  {FRIDAY_TV} ")
    [request] = server.requests
    assert request["key"] == KEY and request["query"] == {"api-version": "2023-04-01"}
    assert request["body"] == {
        "kind": "Conversation",
        "analysisInput": {"conversationItem": {
            "id": "1", "participantId": "customer", "text": FRIDAY_TV, "language": "en"}},
        "parameters": {"projectName": "bot-project", "deploymentName": "production",
                       "stringIndexType": "UnicodeCodePoint"},
    }  # fmt: skip
    assert (recognition.intent, recognition.confidence) == (Intent.BOOK_APPOINTMENT, 0.93)
    assert recognition.runners_up == ((Intent.NONE, 0.04), (Intent.ORDER_STATUS, 0.03))
    # The entities are the bot's own, read in the customer's time zone.
    assert recognition.entities == embedded(FRIDAY_TV).entities
    assert recognition.entities.device == "tv" and recognition.entities.when


async def test_an_empty_message_is_not_sent_to_clu() -> None:
    server = CluServer()
    recognitions = await ask(server, "", "   ")
    assert server.requests == []
    assert [r.intent for r in recognitions] == [embedded("").intent] * 2


@pytest.mark.parametrize("failure", ["500", "no intents", "not a prediction"])
async def test_a_failed_answer_is_tried_once_more_then_the_embedded_recogniser_answers(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = CluServer("bookAppointment", failure)
    [recognition] = await ask(server, "where is my order 123456")
    assert len(server.requests) == 2
    expected = embedded("where is my order 123456")
    assert (recognition.intent, recognition.entities) == (expected.intent, expected.entities)
    assert recognition.intent == Intent.ORDER_STATUS  # not CLU's bookAppointment
    assert "CLU unavailable" in caplog.text and "the embedded recogniser answers" in caplog.text
    if failure != "500":
        assert "the answer is not a conversation prediction" in caplog.text


async def test_one_failure_then_clus_answer_and_the_attempts_are_as_set() -> None:
    server = CluServer("troubleshoot", failures=["500"])
    [recognition] = await ask(server, "hello")
    assert recognition.intent == Intent.TROUBLESHOOT and len(server.requests) == 2
    three = CluServer("troubleshoot", "500")
    await ask(three, "hello", attempts=3)
    assert len(three.requests) == 3


async def test_clu_past_its_deadline_is_not_waited_for(caplog: pytest.LogCaptureFixture) -> None:
    server = CluServer("troubleshoot", failures=["hang"])
    [recognition] = await ask(server, "where is my order", deadline=0.2, attempts=1)
    assert recognition.intent == Intent.ORDER_STATUS
    assert "no answer within 0.2 s" in caplog.text


async def test_after_repeated_failures_clu_is_left_alone_then_tried_again() -> None:
    server = CluServer("troubleshoot", "500")
    async with clu_server(server) as url:
        clu = CluRecognizer(url, KEY, "p", "d", EmbeddedRecognizer.trained(),
                            breaker_threshold=2, breaker_reset_after=0.3)  # fmt: skip
        await clu.open()
        try:
            for _ in range(5):
                await clu.recognize("hello")
            assert len(server.requests) == 4  # two calls of two attempts; then the circuit
            server.failure = None
            await asyncio.sleep(0.4)
            assert (await clu.recognize("hello")).intent == Intent.TROUBLESHOOT
        finally:
            await clu.close()
    assert len(server.requests) == 5


async def test_a_recogniser_not_opened_answers_from_the_embedded_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clu = CluRecognizer("http://127.0.0.1:9", KEY, "p", "d", EmbeddedRecognizer.trained())
    recognition = await clu.recognize("where is my order", now=NOW)
    assert recognition.intent == Intent.ORDER_STATUS
    assert "the CLU client is not open" in caplog.text


@pytest.mark.parametrize("failure", [None, "500"])
async def test_friday_is_the_customers_friday_whoever_answers(failure: str | None) -> None:
    # Late on Thursday in UTC is Friday morning in Tokyo.
    thursday_night = NOW + timedelta(days=2, hours=13)
    [tokyo] = await ask(CluServer(failure=failure), FRIDAY_TV, now=thursday_night)
    assert tokyo.entities == embedded(FRIDAY_TV, thursday_night).entities
    assert tokyo.entities.when != embedded(FRIDAY_TV, thursday_night, None).entities.when


async def test_without_a_key_the_managed_identity_signs_in_and_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[dict] = []
    closed: list[bool] = []

    class Credential:
        def __init__(self, **options: object) -> None:
            made.append(options)

        async def get_token(self, *scopes: str, **options: object) -> object:
            raise AssertionError("no token is asked for before the first call")

        async def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr("azure.identity.aio.DefaultAzureCredential", Credential)
    clu = CluRecognizer("https://clu.example", None, "p", "d", EmbeddedRecognizer.trained(),
                        managed_identity_client_id="client-1")  # fmt: skip
    await clu.open()
    await clu.close()
    await clu.close()
    assert made == [{"managed_identity_client_id": "client-1"}] and closed == [True]
    blank = CluRecognizer("https://clu.example", "", "p", "d", EmbeddedRecognizer.trained(),
                          managed_identity_client_id="")  # fmt: skip
    await blank.open()
    await blank.close()
    assert made[-1] == {"managed_identity_client_id": None}
