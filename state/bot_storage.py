"""botbuilder's `Storage` over any DocumentStore: the one adapter between the two.

BotState hands over dicts whose `e_tag` is the etag it read; that becomes the
write's precondition, and the new etag is put back into the dict so a second
save in the same turn is not refused by its own first save.
"""

from __future__ import annotations

from botbuilder.core import Storage

from state import codec
from state.documents import DocumentStore, DocumentWrite

SCHEMA_VERSION = 1
_ETAG = "e_tag"


class BotStorage(Storage):
    def __init__(self, documents: DocumentStore) -> None:
        self.documents = documents

    async def read(self, keys: list[str]) -> dict[str, dict]:
        found = await self.documents.read(keys)
        items = {}
        for key, stored in found.items():
            item = codec.decode(stored.data.get("state", {}))
            item[_ETAG] = stored.etag
            items[key] = item
        return items

    async def write(self, changes: dict[str, dict]) -> None:
        if not changes:
            return
        writes = {}
        for key, item in changes.items():
            if not isinstance(item, dict):
                raise TypeError(f"state {key!r} must be a dict, not {type(item).__name__}")
            etag = item.get(_ETAG)
            state = {name: value for name, value in item.items() if name != _ETAG}
            writes[key] = DocumentWrite(
                {"schemaVersion": SCHEMA_VERSION, "state": codec.encode(state)},
                if_match=None if etag in (None, "*") else etag,
            )
        etags = await self.documents.write(writes)
        for key, etag in etags.items():
            changes[key][_ETAG] = etag

    async def delete(self, keys: list[str]) -> None:
        await self.documents.delete(keys)
