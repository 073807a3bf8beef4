"""Both embedded stores keep the same contract: JSON documents, etags, all-or-none writes."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from state.documents import DocumentStore, DocumentWrite, EtagConflict, StorageUnavailable
from state.memory_store import MemoryDocumentStore
from state.sqlite_store import SqliteDocumentStore


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    documents: DocumentStore = (
        MemoryDocumentStore() if request.param == "memory" else SqliteDocumentStore(tmp_path)
    )
    await documents.open()
    yield documents
    await documents.close()


async def test_a_written_document_reads_back_with_its_etag(store: DocumentStore) -> None:
    etags = await store.write({"webchat/users/alice": DocumentWrite({"lastOrder": "123456"})})
    found = await store.read(["webchat/users/alice", "webchat/users/nobody"])
    assert list(found) == ["webchat/users/alice"]
    assert found["webchat/users/alice"].data == {"lastOrder": "123456"}
    assert found["webchat/users/alice"].etag == etags["webchat/users/alice"]


async def test_a_stale_write_is_refused_and_the_newer_state_kept(store: DocumentStore) -> None:
    first = (await store.write({"k": DocumentWrite({"n": 1})}))["k"]
    await store.write({"k": DocumentWrite({"n": 2}, if_match=first)})
    with pytest.raises(EtagConflict, match="changed since it was read"):
        await store.write({"k": DocumentWrite({"n": 3}, if_match=first)})
    assert (await store.read(["k"]))["k"].data == {"n": 2}


async def test_writes_are_all_or_none(store: DocumentStore) -> None:
    etag = (await store.write({"a": DocumentWrite({"n": 1})}))["a"]
    await store.write({"a": DocumentWrite({"n": 2}, if_match=etag)})
    with pytest.raises(EtagConflict):
        await store.write(
            {"b": DocumentWrite({"n": 1}), "a": DocumentWrite({"n": 3}, if_match=etag)}
        )
    assert list(await store.read(["a", "b"])) == ["a"]


async def test_delete(store: DocumentStore) -> None:
    await store.write({"k": DocumentWrite({"n": 1})})
    await store.delete(["k", "missing"])
    assert await store.read(["k"]) == {}


async def test_sqlite_keeps_documents_across_a_restart(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path)
    await store.open()
    await store.write({"msteams/users/29:x": DocumentWrite({"lastOrder": "123456"})})
    await store.close()

    reopened = SqliteDocumentStore(tmp_path)
    await reopened.open()
    found = await reopened.read(["msteams/users/29:x"])
    await reopened.close()
    assert found["msteams/users/29:x"].data == {"lastOrder": "123456"}


async def test_sqlite_reports_a_broken_file_as_unavailable(tmp_path: Path) -> None:
    (tmp_path / SqliteDocumentStore.FILE_NAME).write_bytes(b"this is not a database" * 100)
    store = SqliteDocumentStore(tmp_path)
    with pytest.raises(StorageUnavailable, match="SQLite"):
        await store.open()
    await store.close()
