"""A customer's context read and changed outside a turn (an update being sent, an event).

A change is read, applied and written naming the etag read, retried on a fresh read
when a turn (or another instance) wrote in between; a turn that meets the change
replays its own changes on top (state/turn_state.py), so neither is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from customers.context import CustomerContext
from customers.identity import CONTEXT_PROPERTY, customer_key
from state.documents import DocumentStore, DocumentWrite, EtagConflict, StoredDocument

WRITE_ATTEMPTS = 8
T = TypeVar("T")


async def read_contexts(
    documents: DocumentStore, customer_ids: Iterable[str]
) -> dict[str, StoredDocument]:
    """The stored documents of these customers (those who have one), in one read."""
    keys = {customer_key(customer_id): customer_id for customer_id in customer_ids}
    found = await documents.read(keys)
    return {keys[key]: stored for key, stored in found.items()
            if CONTEXT_PROPERTY in stored.data}  # fmt: skip


def context_of(stored: StoredDocument) -> CustomerContext:
    return CustomerContext.from_json(stored.data[CONTEXT_PROPERTY])


async def read_context(documents: DocumentStore, customer_id: str) -> CustomerContext | None:
    stored = (await read_contexts(documents, [customer_id])).get(customer_id)
    return context_of(stored) if stored else None


async def change_context(
    documents: DocumentStore,
    customer_id: str,
    change: Callable[[CustomerContext], T],
    read: StoredDocument | None = None,
    parsed: CustomerContext | None = None,
) -> T | None:
    """Applies `change` to the stored context and returns what it returned; None when the
    customer has no context (never spoken to the bot, or forgotten). `read`: the document
    as just read, tried first without reading it again (`parsed`: its context, unchanged)."""
    key = customer_key(customer_id)
    for _ in range(WRITE_ATTEMPTS):
        known = parsed if read is not None else None
        stored, read, parsed = read or (await documents.read([key])).get(key), None, None
        if stored is None or CONTEXT_PROPERTY not in stored.data:
            return None
        context = known or CustomerContext.from_json(stored.data[CONTEXT_PROPERTY])
        result = change(context)
        data = {**stored.data, CONTEXT_PROPERTY: context.to_json()}
        try:
            await documents.write({key: DocumentWrite(data, if_match=stored.etag)})
            return result
        except EtagConflict:
            continue
    raise EtagConflict(key)
