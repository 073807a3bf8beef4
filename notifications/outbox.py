"""The outbox: every update is a document before anything is sent.

`outbox/<id>` holds one update: whom, about what, the facts to say, when it may go, and
its lease while an instance sends it. The due index, `outbox/due/<shard>`, lists the
pending ids with the time each may go, so a sender finds due updates without a query;
changes to a shard from one instance are gathered into one write (a burst of ten
thousand updates is a few hundred writes, not ten thousand), and every write names the
etag it read, so two instances never lose each other's changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from customers.context import Topic
from state.documents import DocumentStore, DocumentWrite, EtagConflict, StoredDocument

OUTBOX_PREFIX = "outbox/"
DUE_PREFIX = "outbox/due/"
# Ids are spread over this many index documents: each stays far below a document's size
# limit (2 MB on Cosmos DB) up to hundreds of thousands of pending updates.
SHARDS = 64
# A delivered or dropped update is kept this long (an event replayed later finds it and
# is not sent twice), then forgotten.
DONE_TTL = 7 * 24 * 3600
WRITE_ATTEMPTS = 12
MAX_NOTES = 10


class UpdateState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"  # no longer wanted: unsubscribed, superseded, expired, cancelled
    FAILED = "failed"  # every try failed


class Update(BaseModel):
    """One message the bot sends first."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    schema_version: int = 1
    id: str
    customer_id: str
    topic: Topic
    subject: str  # the order number, or the appointment's reference
    event: str  # what caused it: the order event's id, or the reminder's appointment time
    # What to say, put into words when sent (in the customer's time zone, for the channel).
    facts: dict[str, str | None] = Field(default_factory=dict)
    created_at: datetime
    not_before: datetime
    expires_at: datetime
    state: UpdateState = UpdateState.PENDING
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    sent_on: str | None = None  # the channel
    activity_id: str | None = None
    # What happened to it, short and without personal data, for an operator.
    notes: list[str] = Field(default_factory=list)

    def note(self, what: str) -> None:
        self.notes = [*self.notes[-(MAX_NOTES - 1) :], what]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def update_id(customer_id: str, event: str) -> str:
    """The same event for the same customer is always the same update (a replay, or two
    instances taking one event, write it once)."""
    return hashlib.sha256(f"{customer_id}\n{event}".encode()).hexdigest()[:32]


def update_key(update_id: str) -> str:
    return f"{OUTBOX_PREFIX}{update_id}"


def _shard_of(update_id: str) -> int:
    return int(update_id[:4], 16) % SHARDS


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


class Outbox:
    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents
        self._shards = [_DueShard(documents, f"{DUE_PREFIX}{n}") for n in range(SHARDS)]
        # Set when this instance adds an update: its sender looks at once.
        self.added = asyncio.Event()

    async def put(self, update: Update) -> bool:
        """Stores a new update and lists it as due; False when it is already stored."""
        write = DocumentWrite(update.to_json(), create_only=True)
        try:
            await self._documents.write({update_key(update.id): write})
        except EtagConflict:
            # Put before: listed again in case that put stopped before listing it.
            stored = (await self.read([update.id])).get(update.id)
            if stored is not None and stored[0].state == UpdateState.PENDING:
                await self.listed(stored[0])
            return False
        await self._shards[_shard_of(update.id)].change({update.id: _seconds(update.not_before)})
        self.added.set()
        return True

    async def due(self, now: datetime, limit: int) -> tuple[list[str], datetime | None]:
        """Up to `limit` ids due by `now`, earliest first, and when the next one after them
        is due (None: nothing else is pending)."""
        keys = [shard.key for shard in self._shards]
        stored = await self._documents.read(keys)
        entries = sorted(
            (at, update)
            for document in stored.values()
            for update, at in document.data.get("due", {}).items()
        )
        cutoff = _seconds(now)
        ready = [update for at, update in entries if at <= cutoff][:limit]
        later = [at for at, _ in entries if at > cutoff]
        following = entries[limit][0] if len(ready) == limit and len(entries) > limit else None
        next_at = following if following is not None else (later[0] if later else None)
        return ready, datetime.fromtimestamp(next_at, UTC) if next_at is not None else None

    async def pending(self) -> int:
        stored = await self._documents.read([shard.key for shard in self._shards])
        return sum(len(document.data.get("due", {})) for document in stored.values())

    async def read(self, ids: Iterable[str]) -> dict[str, tuple[Update, str]]:
        keys = {update_key(i): i for i in ids}
        stored = await self._documents.read(keys)
        return {keys[key]: (Update.model_validate(doc.data), doc.etag)
                for key, doc in stored.items()}  # fmt: skip

    async def save(self, update: Update, etag: str) -> str:
        """Writes the update if it is unchanged since `etag` was read; its new etag.
        EtagConflict when another instance changed it (took the lease)."""
        done = update.state != UpdateState.PENDING
        write = DocumentWrite(update.to_json(), if_match=etag, ttl=DONE_TTL if done else None)
        key = update_key(update.id)
        return (await self._documents.write({key: write}))[key]

    async def unlist(self, update_id: str) -> None:
        await self._shards[_shard_of(update_id)].change({update_id: None})

    async def listed(self, update: Update) -> None:
        """The index follows the update: due at its time while pending, gone when done."""
        shard = self._shards[_shard_of(update.id)]
        if update.state == UpdateState.PENDING:
            await shard.change({update.id: _seconds(update.not_before)})
        else:
            await shard.change({update.id: None})


class _DueShard:
    """One index document; concurrent changes from this instance share one write."""

    def __init__(self, documents: DocumentStore, key: str) -> None:
        self.key = key
        self._documents = documents
        self._lock = asyncio.Lock()
        self._waiting: list[tuple[dict[str, int | None], asyncio.Future[None]]] = []
        # The document as this instance last wrote it: the next change is tried on it
        # without reading it again (another instance's write in between makes it fail and
        # the document is read afresh).
        self._last: StoredDocument | None = None

    async def change(self, entries: dict[str, int | None]) -> None:
        """Sets each id's due time (None removes it)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, done))
        async with self._lock:
            if not done.done():
                batch, self._waiting = self._waiting, []
                try:
                    await self._write(batch)
                except Exception as error:
                    for _, waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(error)
                except BaseException:  # cancelled: the others try again themselves
                    for changes, waiter in batch:
                        if waiter is not done and not waiter.done():
                            self._waiting.append((changes, waiter))
                    done.cancel()
                    raise
                else:
                    for _, waiter in batch:
                        if not waiter.done():
                            waiter.set_result(None)
        await done

    async def _write(self, batch: list[tuple[dict[str, int | None], asyncio.Future[None]]]):
        for _ in range(WRITE_ATTEMPTS):
            stored, self._last = (
                self._last or (await self._documents.read([self.key])).get(self.key),
                None,
            )
            due = dict(stored.data.get("due", {})) if stored else {}
            for entries, _ in batch:
                for update, at in entries.items():
                    if at is None:
                        due.pop(update, None)
                    else:
                        due[update] = at
            data = {"schemaVersion": 1, "due": due}
            write = DocumentWrite(
                data, if_match=stored.etag if stored else None, create_only=stored is None
            )
            try:
                etags = await self._documents.write({self.key: write})
                self._last = StoredDocument(data, etags[self.key])
                return
            except EtagConflict:
                await asyncio.sleep(random.uniform(0.005, 0.05))
        raise EtagConflict(self.key)
