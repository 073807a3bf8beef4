import pytest

from nlu.recognizer import Intent, RuleRecognizer


@pytest.mark.parametrize(
    ("text", "intent", "order_number"),
    [
        ("Where is my order?", Intent.ORDER_STATUS, None),
        ("where is order #123-456?", Intent.ORDER_STATUS, "123456"),
        ("track my package", Intent.ORDER_STATUS, None),
        ("123456", Intent.ORDER_STATUS, "123456"),
        ("help", Intent.HELP, None),
        ("What can you do?", Intent.HELP, None),
        ("cancel", Intent.CANCEL, None),
        ("Never mind.", Intent.CANCEL, None),
        ("I want to talk to a person", Intent.HUMAN_HANDOFF, None),
        ("agent please", Intent.HUMAN_HANDOFF, None),
        ("Hello!", Intent.GREETING, None),
        ("what's the weather", Intent.NONE, None),
        ("link another channel", Intent.LINK_CHANNEL, None),
        ("Connect my other account", Intent.LINK_CHANNEL, None),
        ("delete my data", Intent.DELETE_DATA, None),
        ("Forget me!", Intent.DELETE_DATA, None),
    ],
)
async def test_intents(text: str, intent: Intent, order_number: str | None) -> None:
    recognition = await RuleRecognizer().recognize(text)
    assert (recognition.intent, recognition.order_number) == (intent, order_number)


async def test_cancel_inside_a_sentence_is_not_an_interruption() -> None:
    # "Cancel" must be the whole message to stop a task; this is about an order.
    recognition = await RuleRecognizer().recognize("can I cancel order 123456")
    assert recognition.intent == Intent.ORDER_STATUS
