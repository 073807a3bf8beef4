"""botbuilder's `Storage` over any DocumentStore: the one adapter between the two.

BotState hands over dicts whose `e_tag` is the etag it read; that becomes the
write's precondition, and the new etag is put back into the dict so a second
save in the same turn is not refused by its own first save. The document is the
state itself as plain JSON (`state/codec.py`), as botbuilder-azure stores it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botbuilder.core import Storage

from state import codec
from state.documents import DocumentStore, DocumentWrite

log = logging.getLogger(__name__)

_ETAG = "e_tag"


@dataclass(frozen=True)
class StateTtl:
    """Seconds each kind of state is kept untouched; 0 keeps it for ever."""

    conversation: int = 0
    customer: int = 0

    def for_key(self, key: str) -> int | None:
        # Keys: customers/{id}, and botbuilder's {channel}/conversations/{id}.
        parts = key.split("/", 2)
        if parts[0] == "customers":
            seconds = self.customer
        elif len(parts) == 3 and parts[1] == "conversations":
            seconds = self.conversation
        else:
            seconds = 0
        return seconds or None


class BotStorage(Storage):
    def __init__(self, documents: DocumentStore, ttl: StateTtl | None = None) -> None:
        self.documents = documents
        self.ttl = ttl or StateTtl()

    async def read(self, keys: list[str]) -> dict[str, dict]:
        found = await self.documents.read(keys)
        return {key: self.item(key, stored.data, stored.etag) for key, stored in found.items()}

    def item(self, key: str, data: dict, etag: str) -> dict:
        """The state dict BotState works with, from a stored document."""
        item = {}
        for name, value in data.items():
            try:
                item[name] = codec.decode(value)
            except codec.Pickled:
                # Written by botbuilder-azure's jsonpickle: never restored as objects.
                log.warning("state %s: %r was written by jsonpickle and is not read", key, name)
        item[_ETAG] = etag
        return item

    def document_write(self, key: str, item: dict) -> DocumentWrite:
        if not isinstance(item, dict):
            raise TypeError(f"state {key!r} must be a dict, not {type(item).__name__}")
        etag = item.get(_ETAG)
        state = {name: value for name, value in item.items() if name != _ETAG}
        return DocumentWrite(
            codec.encode(state),
            if_match=None if etag in (None, "*") else etag,
            ttl=self.ttl.for_key(key),
        )

    async def write(self, changes: dict[str, dict]) -> None:
        if not changes:
            return
        writes = {key: self.document_write(key, item) for key, item in changes.items()}
        etags = await self.documents.write(writes)
        for key, etag in etags.items():
            changes[key][_ETAG] = etag

    async def delete(self, keys: list[str]) -> None:
        await self.documents.delete(keys)
