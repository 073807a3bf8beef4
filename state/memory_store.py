"""Documents in process memory: for tests and throwaway runs (STORAGE=memory).

Documents are kept as JSON text, so what a turn reads is never the object
another turn holds, exactly as with a real database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping

from state.documents import DocumentWrite, EtagConflict, StoredDocument


class MemoryDocumentStore:
    def __init__(self) -> None:
        self._documents: dict[str, tuple[str, str]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def read(self, keys: Iterable[str]) -> dict[str, StoredDocument]:
        found = {}
        for key in keys:
            if key in self._documents:
                body, etag = self._documents[key]
                found[key] = StoredDocument(json.loads(body), etag)
        return found

    async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
        # Check every precondition before changing anything: all or none.
        for key, write in writes.items():
            if write.if_match is not None:
                stored = self._documents.get(key)
                if stored is None or stored[1] != write.if_match:
                    raise EtagConflict(key)
        etags = {}
        for key, write in writes.items():
            etags[key] = uuid.uuid4().hex
            self._documents[key] = (json.dumps(write.data), etags[key])
        return etags

    async def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._documents.pop(key, None)

    async def check(self) -> None:
        pass
