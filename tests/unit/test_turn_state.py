"""Turn safety: two bot processes sharing one store never lose each other's updates."""

from __future__ import annotations

import asyncio

import pytest
from botbuilder.core import ConversationState, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount

from state.bot_storage import BotStorage
from state.customer_context import CUSTOMER_ID, CustomerContextAccessor, CustomerState
from state.documents import EtagConflict
from state.keyed_locks import KeyedLocks
from state.memory_store import MemoryDocumentStore
from state.turn_state import TurnState
from tests.conftest import NOW


class Process:
    """What one bot process holds: its own states, locks and accessors, over a shared store."""

    def __init__(self, storage: BotStorage) -> None:
        self.customer_state = CustomerState(storage)
        self.conversation_state = ConversationState(storage)
        self.turn_state = TurnState(storage, self.customer_state, self.conversation_state)
        self.customers = CustomerContextAccessor(self.customer_state)
        self.notes = self.conversation_state.create_property("notes")

    def turn(self, conversation: str = "c1", activity_id: str = "a1") -> TurnContext:
        turn_context = TurnContext(
            TestAdapter(),
            Activity(
                type="message",
                id=activity_id,
                channel_id="webchat",
                text="hi",
                from_property=ChannelAccount(id="alice"),
                recipient=ChannelAccount(id="bot"),
                conversation=ConversationAccount(id=conversation),
            ),
        )
        turn_context.turn_state[CUSTOMER_ID] = "alice"
        return turn_context


@pytest.fixture
def storage() -> BotStorage:
    return BotStorage(MemoryDocumentStore())


async def racing_turns(
    storage: BotStorage, conversations: tuple[str, str] = ("c1", "c2")
) -> tuple[Process, TurnContext, Process, TurnContext]:
    """Two processes each start a turn of the same customer before either saves."""
    one, two = Process(storage), Process(storage)
    first, second = one.turn(conversations[0]), two.turn(conversations[1])
    await one.turn_state.load(first)
    await two.turn_state.load(second)
    return one, first, two, second


async def test_concurrent_changes_to_a_customer_are_all_kept(storage: BotStorage) -> None:
    one, first, two, second = await racing_turns(storage)
    await one.customers.update(first, lambda c: c.count_message())
    await two.customers.update(second, lambda c: c.count_message())
    await two.customers.update(second, lambda c: c.remember_intent("help"))
    await two.turn_state.save(second)

    # Both read "no customer yet"; the second saved first. The first turn's write meets
    # the conflict and its changes are applied again to what the second wrote.
    await one.customers.update(first, lambda c: c.remember_order("123456", NOW, "webchat"))
    await one.turn_state.save(first)

    check = one.turn("c3")
    await one.turn_state.load(check)
    context = await one.customers.get(check)
    assert context.message_count == 2
    assert (context.last_order_number, context.last_intent) == ("123456", "help")

    # Again, now that the customer exists: the etag decides.
    first, second = one.turn("c1"), two.turn("c2")
    await one.turn_state.load(first)
    await two.turn_state.load(second)
    await two.customers.update(second, lambda c: c.count_message())
    await two.turn_state.save(second)
    await one.customers.update(first, lambda c: c.count_message())
    await one.turn_state.save(first)
    await one.turn_state.load(check)
    assert (await one.customers.get(check)).message_count == 4


async def test_without_rebase_a_conflict_is_raised_for_the_turn_to_run_again(
    storage: BotStorage,
) -> None:
    one, first, two, second = await racing_turns(storage)
    await one.customers.update(first, lambda c: c.count_message())
    await two.customers.update(second, lambda c: c.count_message())
    await two.turn_state.save(second)
    with pytest.raises(EtagConflict):
        await one.turn_state.save(first, rebase=False)


async def test_a_changed_property_without_replay_takes_this_turns_value_and_keeps_others(
    storage: BotStorage,
) -> None:
    one, first, two, second = await racing_turns(storage, ("c1", "c1"))
    await one.notes.set(first, {"step": 3})
    other = two.conversation_state.create_property("other")
    await other.set(second, {"written": "by two"})
    await two.turn_state.save(second)
    await one.turn_state.save(first)

    check = one.turn()
    await one.turn_state.load(check)
    assert await one.notes.get(check) == {"step": 3}
    assert await one.conversation_state.create_property("other").get(check) == {"written": "by two"}


async def test_an_activity_is_claimed_once(storage: BotStorage) -> None:
    one, two = Process(storage), Process(storage)
    assert await one.turn_state.claim(one.turn(activity_id="x"))
    assert not await two.turn_state.claim(two.turn(activity_id="x"))
    assert await two.turn_state.claim(two.turn(activity_id="y"))


async def test_keyed_locks_serialise_a_key_and_forget_it_after() -> None:
    locks = KeyedLocks()
    running: list[str] = []
    overlaps: list[set[str]] = []

    async def hold(name: str, *keys: str) -> None:
        async with locks.hold(*keys):
            running.append(name)
            overlaps.append(set(running))
            await asyncio.sleep(0.01)
            running.remove(name)

    await asyncio.gather(
        hold("a", "conversation-1", "alice"),
        hold("b", "alice", "conversation-2"),  # the same customer elsewhere: waits
        hold("c", "conversation-3", "bob"),  # someone else: runs alongside
    )
    assert not any({"a", "b"} <= seen for seen in overlaps)
    assert any({"a", "c"} <= seen for seen in overlaps)
    assert len(locks) == 0


async def test_a_customer_changed_three_times_is_encoded_once_and_saved_with_every_change(
    storage: BotStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    from customers.context import CustomerContext

    dumps = 0
    to_json = CustomerContext.to_json

    def counted(self: CustomerContext) -> dict:
        nonlocal dumps
        dumps += 1
        return to_json(self)

    monkeypatch.setattr(CustomerContext, "to_json", counted)
    one = Process(storage)
    first = one.turn()
    await one.turn_state.load(first)
    await one.customers.update(first, lambda c: c.count_message())
    await one.customers.update(first, lambda c: c.remember_intent("orderStatus"))
    await one.customers.update(first, lambda c: c.remember_order("123456", NOW, "webchat"))
    assert dumps == 0  # nothing encoded until the save
    await one.turn_state.save(first)
    assert dumps == 1

    # A change after a save is saved by the next save, and read back by a new turn.
    await one.customers.update(first, lambda c: c.count_message())
    await one.turn_state.save(first)
    check = Process(storage).turn("c2", "a2")
    other = Process(storage)
    await other.turn_state.load(check)
    context = await other.customers.get(check)
    assert (context.message_count, context.last_intent, context.last_order_number) == (
        2, "orderStatus", "123456",
    )  # fmt: skip


async def test_a_turn_that_changes_nothing_writes_nothing(storage: BotStorage) -> None:
    one = Process(storage)
    first = one.turn()
    await one.turn_state.load(first)
    await one.customers.update(first, lambda c: c.count_message())
    await one.notes.set(first, {"step": 1, "when": NOW})
    await one.turn_state.save(first)
    stored = await storage.documents.read(["customers/alice", "webchat/conversations/c1"])
    assert len(stored) == 2

    # Read again and only read: what was loaded is compared as the stored JSON it came from.
    again = one.turn(activity_id="a2")
    await one.turn_state.load(again)
    assert (await one.notes.get(again))["when"] == NOW
    await one.customers.get(again)
    await one.turn_state.save(again)
    after = await storage.documents.read(["customers/alice", "webchat/conversations/c1"])
    assert {key: doc.etag for key, doc in after.items()} == {
        key: doc.etag for key, doc in stored.items()
    }


async def test_a_redelivery_after_the_claims_lease_is_known_answered_from_the_conversation(
    storage: BotStorage,
) -> None:
    one = Process(storage)
    one.turn_state = TurnState(storage, one.customer_state, one.conversation_state, lease=0)
    first = one.turn(activity_id="a1")
    assert await one.turn_state.claim(first)
    await one.turn_state.load(first)
    assert not one.turn_state.answered_before(first)
    await one.notes.set(first, {"step": 1})
    await one.turn_state.save(first)

    # The lease has run out: the redelivery takes the claim over, and the conversation's
    # state says the turn was answered.
    again = one.turn(activity_id="a1")
    assert await one.turn_state.claim(again)
    await one.turn_state.load(again)
    assert one.turn_state.answered_before(again)
    other = one.turn(activity_id="a2")
    assert await one.turn_state.claim(other)
    await one.turn_state.load(other)
    assert not one.turn_state.answered_before(other)


async def test_two_turns_racing_in_one_conversation_are_both_remembered_answered(
    storage: BotStorage,
) -> None:
    one, two = Process(storage), Process(storage)
    first, second = one.turn("c1", "a1"), two.turn("c1", "a2")
    for process, turn in ((one, first), (two, second)):
        assert await process.turn_state.claim(turn)
        await process.turn_state.load(turn)
    await two.turn_state.save(second)
    await one.turn_state.save(first)  # meets the conflict: rebased onto the second's write

    (stored,) = (await storage.documents.read(["webchat/conversations/c1"])).values()
    claims = [first.turn_state["turnState.claim"], second.turn_state["turnState.claim"]]
    assert sorted(stored.data["answeredActivities"]) == sorted(
        claim.split("/")[1][:16] for claim in claims
    )
