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
