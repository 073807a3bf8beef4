"""Every store keeps the same contract: JSON documents, etags, create-only, time to live.

Cosmos DB runs against the local Cosmos DB API server (tests/peers).
"""

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from state.cosmos_store import CosmosDocumentStore
from state.documents import (
    DocumentExists,
    DocumentStore,
    DocumentWrite,
    EtagConflict,
    StorageUnavailable,
)
from state.memory_store import MemoryDocumentStore
from state.sqlite_store import SqliteDocumentStore
from state.storage_health import FAILED_TURNS, FAILING_FOR, StorageHealth
from tools.local_peers import KEY


@pytest.fixture(params=["memory", "sqlite", "cosmos"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    documents: DocumentStore
    if request.param == "memory":
        documents = MemoryDocumentStore()
    elif request.param == "sqlite":
        documents = SqliteDocumentStore(tmp_path)
    else:
        server = request.getfixturevalue("cosmos_server")
        documents = CosmosDocumentStore(
            server.endpoint, KEY, f"test-{uuid.uuid4().hex[:12]}", "state",
            verify_tls=False, create_container=True,
        )  # fmt: skip
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


async def test_create_only_refuses_an_existing_key(store: DocumentStore) -> None:
    await store.write({"claim": DocumentWrite({"by": "first"}, create_only=True)})
    with pytest.raises(DocumentExists):
        await store.write({"claim": DocumentWrite({"by": "second"}, create_only=True)})
    assert (await store.read(["claim"]))["claim"].data == {"by": "first"}


async def test_a_write_to_a_deleted_document_is_a_conflict(store: DocumentStore) -> None:
    etag = (await store.write({"k": DocumentWrite({"n": 1})}))["k"]
    await store.delete(["k"])
    with pytest.raises(EtagConflict):
        await store.write({"k": DocumentWrite({"n": 2}, if_match=etag)})


async def test_keys_with_slashes_and_unicode(store: DocumentStore) -> None:
    key = "msteams/users/29:1Ab?c#d/é"
    await store.write({key: DocumentWrite({"name": "Zoë"})})
    assert (await store.read([key]))[key].data == {"name": "Zoë"}


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_an_expired_document_is_gone(kind: str, tmp_path: Path) -> None:
    # Cosmos DB expires items itself (per-item "ttl"); the embedded stores do it here.
    store = MemoryDocumentStore() if kind == "memory" else SqliteDocumentStore(tmp_path)
    await store.open()
    await store.write({"short": DocumentWrite({"n": 1}, ttl=1), "long": DocumentWrite({"n": 2})})
    await asyncio.sleep(1.1)
    assert list(await store.read(["short", "long"])) == ["long"]
    await store.write({"short": DocumentWrite({"n": 3}, create_only=True)})
    await store.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_the_embedded_stores_write_several_keys_all_or_none(
    kind: str, tmp_path: Path
) -> None:
    # Cosmos DB cannot (one partition a key): the bot writes one key a call.
    store = MemoryDocumentStore() if kind == "memory" else SqliteDocumentStore(tmp_path)
    await store.open()
    etag = (await store.write({"a": DocumentWrite({"n": 1})}))["a"]
    await store.write({"a": DocumentWrite({"n": 2}, if_match=etag)})
    with pytest.raises(EtagConflict):
        await store.write(
            {"b": DocumentWrite({"n": 1}), "a": DocumentWrite({"n": 3}, if_match=etag)}
        )
    assert list(await store.read(["a", "b"])) == ["a"]
    await store.close()


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


async def test_a_sqlite_store_that_does_not_answer_is_unavailable_at_its_deadline(
    tmp_path: Path,
) -> None:
    store = SqliteDocumentStore(tmp_path, timeout=0.2)
    await store.open()
    # Its one worker busy for a second (a slow disk, a huge query): the turn does not wait.
    assert store._executor is not None
    busy = store._executor.submit(time.sleep, 1.0)
    with pytest.raises(StorageUnavailable, match=r"^SQLite did not answer within 0\.2 s$"):
        await store.read(["webchat/conversations/c1"])
    await asyncio.wrap_future(busy)
    assert await store.read(["webchat/conversations/c1"]) == {}
    await store.close()


async def test_sqlite_makes_its_data_folder_however_deep(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path / "app" / "data")  # neither folder exists yet
    await store.open()
    await store.write({"webchat/conversations/c1": DocumentWrite({"step": 1})})
    assert (await store.read(["webchat/conversations/c1"]))["webchat/conversations/c1"].data == {
        "step": 1
    }
    await store.close()


async def test_sqlite_reports_a_broken_file_as_unavailable(tmp_path: Path) -> None:
    (tmp_path / SqliteDocumentStore.FILE_NAME).write_bytes(b"this is not a database" * 100)
    store = SqliteDocumentStore(tmp_path)
    with pytest.raises(StorageUnavailable, match="SQLite"):
        await store.open()
    await store.close()


async def test_the_sqlite_health_check_writes_and_reads_and_notices_a_replaced_file(
    tmp_path: Path,
) -> None:
    store = SqliteDocumentStore(tmp_path)
    await store.open()
    try:
        await store.check()
        await store.write({"customers/c-1": DocumentWrite({"kept": True})})
        # A table that cannot be written (as a damaged file) fails the check as a turn would.
        with sqlite3.connect(store.path) as other:
            other.execute("ALTER TABLE documents RENAME TO damaged")
        with pytest.raises(StorageUnavailable, match="SQLite at"):
            await store.check()
        with sqlite3.connect(store.path) as other:
            other.execute("ALTER TABLE damaged RENAME TO documents")
        await store.check()
        # The file replaced under the bot (a restore gone wrong, a volume remounted).
        store.path.rename(tmp_path / "moved.sqlite3")
        fresh = SqliteDocumentStore(tmp_path)
        await fresh.open()
        await fresh.close()
        with pytest.raises(StorageUnavailable, match="deleted or replaced"):
            await store.check()
        with pytest.raises(StorageUnavailable, match="deleted or replaced"):
            await store.read(["customers/c-1"])
    finally:
        await store.close()
    with pytest.raises(StorageUnavailable, match="not open"):
        await store.check()


async def test_a_sqlite_write_that_fails_half_way_writes_nothing(tmp_path: Path) -> None:
    store = SqliteDocumentStore(tmp_path)
    await store.open()
    try:
        await store.write({"a": DocumentWrite({"n": 1})})
        with pytest.raises(DocumentExists):
            await store.write(
                {"b": DocumentWrite({"n": 2}), "a": DocumentWrite({"n": 3}, create_only=True)}
            )
        assert set(await store.read(["a", "b"])) == {"a"}
        await store.check()  # and the store is usable after
    finally:
        await store.close()


def test_storage_is_failing_after_three_failed_turns_in_a_row_within_a_minute() -> None:
    now = [1000.0]
    health = StorageHealth(clock=lambda: now[0])
    health.failed()
    health.failed()
    assert not health.failing
    health.failed()
    assert health.failing
    now[0] += FAILING_FOR - 1
    assert health.failing
    now[0] += 1
    assert not health.failing  # the last failure is a minute old: recovered or idle
    for _ in range(FAILED_TURNS):
        health.failed()
    health.saved()
    assert not health.failing  # a turn saved: storage works
    health.failed()
    assert not health.failing  # counted again from the save


async def test_the_memory_store_lets_go_of_expired_documents() -> None:
    now = [1000.0]
    store = MemoryDocumentStore(clock=lambda: now[0])
    for n in range(1500):
        await store.write({f"claims/{n}": DocumentWrite({"answered": True}, ttl=60)})
    await store.write({"customers/c-1": DocumentWrite({"kept": True})})
    now[0] += 60  # every claim expires now
    for _ in range(1500):  # the store sweeps once its writes reach its size
        await store.write({"customers/c-1": DocumentWrite({"kept": True})})
    assert len(store._entries) == 1  # memory held: the live document only
    assert set(await store.read(["claims/1", "customers/c-1"])) == {"customers/c-1"}
