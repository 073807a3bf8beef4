"""Documents in an SQLite file: the embedded default (STORAGE=sqlite, in DATA_DIR).

Survives a restart and needs no server. Every operation is one function run on
the store's own thread, so the event loop never waits on the disk and one
coroutine's transaction is never interleaved with another's.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import orjson

from state.documents import (
    DocumentExists,
    DocumentWrite,
    EtagConflict,
    StorageUnavailable,
    StoredDocument,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    key         TEXT PRIMARY KEY,
    etag        TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    expires_at  REAL            -- epoch seconds; NULL: kept
)
"""
_LIVE = "(expires_at IS NULL OR expires_at > :now)"
# Expired documents are ignored when read and purged now and then.
_PURGE_EVERY_WRITES = 1000

_UPSERT = (
    "INSERT INTO documents (key, etag, body, updated_at, expires_at) "
    "VALUES (:key, :etag, :body, :updated_at, :expires_at) "
    "ON CONFLICT(key) DO UPDATE SET etag = excluded.etag, body = excluded.body, "
    "updated_at = excluded.updated_at, expires_at = excluded.expires_at"
)
# An expired document counts as absent.
_CREATE_UNLESS_LIVE = f"{_UPSERT} WHERE NOT {_LIVE.replace('expires_at', 'documents.expires_at')}"
_UPDATE_IF_MATCH = (
    "UPDATE documents SET etag = :etag, body = :body, updated_at = :updated_at, "
    f"expires_at = :expires_at WHERE key = :key AND etag = :if_match AND {_LIVE}"
)


class SqliteDocumentStore:
    # Several documents in one write() are written all or none.
    writes_atomically = True

    FILE_NAME = "bot-state.sqlite3"

    def __init__(self, data_dir: Path, *, timeout: float = 5.0) -> None:
        self.path = Path(data_dir) / self.FILE_NAME
        self._timeout = timeout
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._writes_since_purge = 0
        self._file_identity: tuple[int, int] | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-state")
        await self._run(self._connect)

    async def close(self) -> None:
        if self._executor is None:
            return
        if self._connection is not None:
            await self._run(self._connection.close)
            self._connection = None
        self._executor.shutdown(wait=True)
        self._executor = None

    async def read(self, keys: Iterable[str]) -> dict[str, StoredDocument]:
        keys = list(keys)
        if not keys:
            return {}
        return await self._run(self._read, keys)

    async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
        if not writes:
            return {}
        return await self._run(self._write, dict(writes))

    async def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            await self._run(self._delete, keys)

    async def check(self) -> None:
        await self._run(self._probe)

    # --- on the store's thread -------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StorageUnavailable("the SQLite store is not open")
        if self._file_identity != _identity(self.path):
            # A new empty file in its place would silently forget every customer: stop instead.
            raise StorageUnavailable(
                f"the state file {self.path} was deleted or replaced while the bot ran; "
                "restore it and restart the bot"
            )
        return self._connection

    def _probe(self) -> None:
        """A real write and read, as a turn does: a corrupt file or a full disk fails here."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_UPSERT, {"key": "health/probe", "etag": uuid.uuid4().hex, "body": "{}",
                                 "updated_at": datetime.now(UTC).isoformat(),
                                 "expires_at": time.time() + 60})  # fmt: skip
            db.execute("SELECT body FROM documents WHERE key = 'health/probe'").fetchall()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(_SCHEMA)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(documents)")}
        if "expires_at" not in columns:  # a file from before state expired
            connection.execute("ALTER TABLE documents ADD COLUMN expires_at REAL")
        self._connection = connection
        self._file_identity = _identity(self.path)
        self._purge()

    def _purge(self) -> None:
        self._db.execute("DELETE FROM documents WHERE expires_at <= ?", (time.time(),))
        self._writes_since_purge = 0

    def _read(self, keys: list[str]) -> dict[str, StoredDocument]:
        names = {f"k{i}": key for i, key in enumerate(keys)}
        marks = ",".join(f":{name}" for name in names)
        rows = self._db.execute(
            f"SELECT key, etag, body FROM documents WHERE key IN ({marks}) AND {_LIVE}",
            {**names, "now": time.time()},
        ).fetchall()
        return {key: StoredDocument(orjson.loads(body), etag) for key, etag, body in rows}

    def _write(self, writes: dict[str, DocumentWrite]) -> dict[str, str]:
        db = self._db
        now = time.time()
        etags = {}
        db.execute("BEGIN IMMEDIATE")
        try:
            for key, write in writes.items():
                row = {
                    "key": key,
                    "etag": uuid.uuid4().hex,
                    "body": orjson.dumps(write.data, option=orjson.OPT_NON_STR_KEYS).decode(),
                    "updated_at": datetime.now(UTC).isoformat(),
                    "expires_at": now + write.ttl if write.ttl else None,
                    "if_match": write.if_match,
                    "now": now,
                }
                if write.if_match is not None:
                    sql = _UPDATE_IF_MATCH
                elif write.create_only:
                    sql = _CREATE_UNLESS_LIVE
                else:
                    sql = _UPSERT
                if db.execute(sql, row).rowcount != 1:
                    raise DocumentExists(key) if write.create_only else EtagConflict(key)
                etags[key] = row["etag"]
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._writes_since_purge += 1
        if self._writes_since_purge >= _PURGE_EVERY_WRITES:
            self._purge()
        return etags

    def _delete(self, keys: list[str]) -> None:
        marks = ",".join("?" * len(keys))
        self._db.execute(f"DELETE FROM documents WHERE key IN ({marks})", keys)

    # --- from the event loop ---------------------------------------------------

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            raise StorageUnavailable("the SQLite store is not open")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                return await loop.run_in_executor(self._executor, work, *args)
        except TimeoutError:
            raise StorageUnavailable(f"SQLite did not answer within {self._timeout} s") from None
        except (sqlite3.Error, OSError) as error:
            raise StorageUnavailable(f"SQLite at {self.path}: {error}") from error


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
