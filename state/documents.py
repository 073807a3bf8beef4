"""The contract every state backend keeps: JSON documents by key, with etags.

Plain Python. A write names the etag it read; the backend refuses it when the
stored document has changed since (optimistic concurrency), so two turns can
never silently overwrite each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

JsonDocument = dict[str, Any]


@dataclass(frozen=True)
class StoredDocument:
    data: JsonDocument
    etag: str


@dataclass(frozen=True)
class DocumentWrite:
    data: JsonDocument
    # The etag the writer read; None writes whatever is stored (first write, "*").
    if_match: str | None = None
    # Refuse the write when the key already exists (claiming an activity).
    create_only: bool = False
    # Seconds until the store may forget the document; None keeps it.
    ttl: int | None = None


class StorageError(Exception):
    """State could not be read or written."""


class EtagConflict(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"state {key!r} changed since it was read (etag mismatch): the write was refused"
        )
        self.key = key


class DocumentExists(EtagConflict):
    def __init__(self, key: str) -> None:
        StorageError.__init__(self, f"state {key!r} already exists: the create was refused")
        self.key = key


class StorageUnavailable(StorageError):
    """The backend did not answer, or answered with an error."""


class DocumentStore(Protocol):
    # True when several documents in one write() are written all or none.
    writes_atomically: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def read(self, keys: Iterable[str]) -> dict[str, StoredDocument]:
        """The documents that exist among `keys`."""
        ...

    async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
        """Returns each key's new etag; raises EtagConflict (DocumentExists) when a
        precondition fails. Each document is written whole or not at all; the embedded
        stores write several keys all or none, Cosmos DB (one partition a key) cannot."""
        ...

    async def delete(self, keys: Iterable[str]) -> None: ...

    async def check(self) -> None:
        """Raises StorageUnavailable when the backend cannot serve a turn."""
        ...


async def append_to_list(
    documents: DocumentStore,
    key: str,
    field: str,
    item: Any,
    *,
    attempts: int,
    limit: int | None = None,
    ttl: int | None = None,
) -> bool:
    """Appends `item` to the list `field` of the document at `key` (created when missing),
    retrying when another writer got there first. False when the list is at `limit` or
    the writes kept conflicting; StorageError when the store fails."""
    for _ in range(attempts):
        stored = (await documents.read([key])).get(key)
        items = list(stored.data.get(field, [])) if stored else []
        if limit is not None and len(items) >= limit:
            return False
        write = DocumentWrite(
            {**(stored.data if stored else {}), field: [*items, item]},
            if_match=stored.etag if stored else None,
            create_only=stored is None,
            ttl=ttl,
        )
        try:
            await documents.write({key: write})
            return True
        except EtagConflict:
            continue
    return False
