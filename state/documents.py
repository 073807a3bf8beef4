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


class StorageError(Exception):
    """State could not be read or written."""


class EtagConflict(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"state {key!r} changed since it was read (etag mismatch): the write was refused"
        )
        self.key = key


class StorageUnavailable(StorageError):
    """The backend did not answer, or answered with an error."""


class DocumentStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def read(self, keys: Iterable[str]) -> dict[str, StoredDocument]:
        """The documents that exist among `keys`."""
        ...

    async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
        """Writes all or none; returns each key's new etag; raises EtagConflict."""
        ...

    async def delete(self, keys: Iterable[str]) -> None: ...

    async def check(self) -> None:
        """Raises StorageUnavailable when the backend cannot serve a turn."""
        ...
