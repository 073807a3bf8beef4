"""A customer's context changed outside a turn: etag'd, retried, never lost."""

from __future__ import annotations

import pytest

from customers.context import CustomerContext
from customers.identity import CONTEXT_PROPERTY, customer_key
from customers.stored import WRITE_ATTEMPTS, change_context, read_context, read_contexts
from state.documents import DocumentWrite, EtagConflict
from state.memory_store import MemoryDocumentStore

KEY = customer_key("c-1")


class _Contended(MemoryDocumentStore):
    """Another writer changes the context just before each of this one's first `times`
    etag'd writes."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times
        self.conflicts = 0

    async def write(self, writes):  # type: ignore[no-untyped-def]
        write = writes.get(KEY)
        if write is not None and write.if_match is not None and self.conflicts < self.times:
            self.conflicts += 1
            stored = (await self.read([KEY]))[KEY]
            theirs = CustomerContext.from_json(stored.data[CONTEXT_PROPERTY])
            theirs.count_message()
            data = {**stored.data, CONTEXT_PROPERTY: theirs.to_json()}
            await super().write({KEY: DocumentWrite(data, stored.etag)})
        return await super().write(writes)


async def store(documents: MemoryDocumentStore, **fields) -> None:
    data = {CONTEXT_PROPERTY: CustomerContext(**fields).to_json(), "other": "kept"}
    await documents.write({KEY: DocumentWrite(data)})


async def test_a_change_is_applied_to_what_is_stored_and_its_result_returned() -> None:
    documents = MemoryDocumentStore()
    await store(documents, last_intent="help", message_count=3)
    result = await change_context(documents, "c-1", lambda c: c.offered_updates("123456") or 7)
    assert result == 7
    context = await read_context(documents, "c-1")
    assert context is not None
    assert (context.last_intent, context.message_count) == ("help", 3)
    assert context.updates_offered == ["123456"]
    assert (await documents.read([KEY]))[KEY].data["other"] == "kept"


async def test_a_change_on_the_document_just_read_is_not_read_again() -> None:
    documents = MemoryDocumentStore()
    await store(documents, message_count=3)
    read = (await documents.read([KEY]))[KEY]
    parsed = CustomerContext.from_json(read.data[CONTEXT_PROPERTY])
    await change_context(documents, "c-1", lambda c: c.count_message(), read, parsed)
    assert (await read_context(documents, "c-1")).message_count == 4  # type: ignore[union-attr]


async def test_a_change_made_in_between_is_kept_and_the_change_applied_on_top() -> None:
    documents = _Contended(times=WRITE_ATTEMPTS - 1)
    await store(documents, message_count=1)
    read = (await documents.read([KEY]))[KEY]
    parsed = CustomerContext.from_json(read.data[CONTEXT_PROPERTY])
    await change_context(documents, "c-1", lambda c: c.offered_updates("1"), read, parsed)
    context = await read_context(documents, "c-1")
    assert context is not None
    assert context.message_count == 1 + WRITE_ATTEMPTS - 1  # every other writer's change
    assert context.updates_offered == ["1"]


async def test_a_context_that_keeps_changing_is_given_up_on_with_a_conflict() -> None:
    documents = _Contended(times=WRITE_ATTEMPTS)
    await store(documents)
    with pytest.raises(EtagConflict) as raised:
        await change_context(documents, "c-1", lambda c: c.offered_updates("1"))
    assert raised.value.key == KEY
    assert (await read_context(documents, "c-1")).updates_offered == []  # type: ignore[union-attr]


async def test_a_customer_with_no_context_is_not_changed_or_created() -> None:
    documents = MemoryDocumentStore()
    assert await change_context(documents, "c-1", lambda c: c.count_message()) is None
    assert await documents.read([KEY]) == {}
    await documents.write({KEY: DocumentWrite({"somethingElse": 1})})
    assert await change_context(documents, "c-1", lambda c: c.count_message()) is None
    assert (await documents.read([KEY]))[KEY].data == {"somethingElse": 1}
    assert await read_context(documents, "c-1") is None
    assert await read_contexts(documents, ["c-1", "c-2"]) == {}
