"""A customer's context read and changed outside a turn (an update being sent, an event).

A change is read, applied and written naming the etag read, retried on a fresh read
when a turn (or another instance) wrote in between; a turn that meets the change
replays its own changes on top (state/turn_state.py), so neither is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from customers.context import CustomerContext
from customers.identity import CONTEXT_PROPERTY, customer_key
from state.documents import DocumentStore, DocumentWrite, EtagConflict

WRITE_ATTEMPTS = 8
T = TypeVar("T")


async def read_context(documents: DocumentStore, customer_id: str) -> CustomerContext | None:
    key = customer_key(customer_id)
    stored = (await documents.read([key])).get(key)
    if stored is None or CONTEXT_PROPERTY not in stored.data:
        return None
    return CustomerContext.from_json(stored.data[CONTEXT_PROPERTY])


async def change_context(
    documents: DocumentStore, customer_id: str, change: Callable[[CustomerContext], T]
) -> T | None:
    """Applies `change` to the stored context and returns what it returned; None when the
    customer has no context (never spoken to the bot, or forgotten)."""
    key = customer_key(customer_id)
    for _ in range(WRITE_ATTEMPTS):
        stored = (await documents.read([key])).get(key)
        if stored is None or CONTEXT_PROPERTY not in stored.data:
            return None
        context = CustomerContext.from_json(stored.data[CONTEXT_PROPERTY])
        result = change(context)
        data = {**stored.data, CONTEXT_PROPERTY: context.to_json()}
        try:
            await documents.write({key: DocumentWrite(data, if_match=stored.etag)})
            return result
        except EtagConflict:
            continue
    raise EtagConflict(key)
