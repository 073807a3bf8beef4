import json
from datetime import UTC, datetime

import pytest
from botbuilder.core import MessageFactory
from botbuilder.dialogs import DialogInstance, DialogState
from botbuilder.dialogs.prompts import PromptOptions

from state import codec


def test_dialog_state_round_trips_through_plain_json() -> None:
    options = PromptOptions(prompt=MessageFactory.text("Can you provide your order number?"))
    options.number_of_attempts = 2
    state = {
        "DialogState": DialogState(
            [DialogInstance("OrderStatusDialog", {"options": options, "at": datetime.now(UTC)})]
        )
    }
    stored = json.loads(json.dumps(codec.encode(state)))
    restored = codec.decode(stored)["DialogState"]
    instance = restored.dialog_stack[0]
    assert instance.id == "OrderStatusDialog"
    assert instance.state["options"].prompt.text == "Can you provide your order number?"
    assert instance.state["options"].number_of_attempts == 2


def test_a_customers_own_dollar_type_field_stays_data() -> None:
    value = {"$type": "DialogState", "note": "typed by a customer"}
    assert codec.decode(codec.encode(value)) == value


def test_a_stored_document_cannot_name_a_class_to_build() -> None:
    # What jsonpickle would restore (and run) is refused here.
    with pytest.raises(ValueError, match="unknown type"):
        codec.decode({"$type": "os.system", "$value": "echo owned"})
    # What jsonpickle wrote is recognised, and never built (the storage skips it).
    with pytest.raises(codec.Pickled):
        codec.decode({"py/object": "os.system"})
    with pytest.raises(codec.Pickled):
        codec.decode({"conversation": [{"state": {"py/object": "os.system"}}]})


def test_an_unlisted_object_cannot_be_stored() -> None:
    with pytest.raises(TypeError, match="cannot store"):
        codec.encode({"x": object()})


def test_state_written_by_jsonpickle_is_skipped_and_the_rest_read() -> None:
    from state.bot_storage import BotStorage
    from state.memory_store import MemoryDocumentStore

    storage = BotStorage(MemoryDocumentStore())
    item = storage.item(
        "conversation/1",
        {"DialogState": {"py/object": "botbuilder.dialogs.DialogState"}, "offeredChoices": ["Yes"]},
        "m1",
    )
    assert item == {"offeredChoices": ["Yes"], "e_tag": "m1"}


def test_a_reply_is_copied_shallowly_when_sent_and_stored_as_an_activity() -> None:
    import copy

    from botbuilder.schema import CardAction, SuggestedActions

    from dialogs.reply_activity import ReplyActivity

    reply = ReplyActivity(
        type="message",
        text="Is this about order 123456?",
        suggested_actions=SuggestedActions(actions=[CardAction(type="imBack", title="Yes")]),
    )
    sent = copy.deepcopy(reply)  # what TurnContext.send_activities does to every activity
    assert sent is not reply and sent.suggested_actions is reply.suggested_actions
    sent.text = "changed on the copy"
    assert reply.text == "Is this about order 123456?"
    stored = codec.encode(reply)
    assert stored["$type"] == "Activity"
    assert type(codec.decode(stored)).__name__ == "Activity"


async def test_the_customer_context_is_read_once_a_turn_and_follows_its_changes() -> None:
    from botbuilder.core import MemoryStorage, TurnContext
    from botbuilder.core.adapters import TestAdapter
    from botbuilder.schema import Activity, ChannelAccount, ConversationAccount

    from state.customer_context import CUSTOMER_ID, CustomerContextAccessor, CustomerState

    state = CustomerState(MemoryStorage())
    contexts = CustomerContextAccessor(state)
    activity = Activity(
        type="message", text="hi", channel_id="webchat",
        conversation=ConversationAccount(id="c1"), from_property=ChannelAccount(id="u1"),
    )  # fmt: skip
    turn = TurnContext(TestAdapter(), activity)
    turn.turn_state[CUSTOMER_ID] = "customer-1"
    await state.load(turn)
    first = await contexts.get(turn)
    assert await contexts.get(turn) is first  # validated once, not at every read
    changed = await contexts.update(turn, lambda c: c.prefer_language("es"))
    assert (await contexts.get(turn)).preferences.language == "es"
    assert await contexts.get(turn) is changed
