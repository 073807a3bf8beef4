"""The event log: written in the background, read back by day, never in a turn's way."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

import pytest

from analytics import event_log
from analytics.event_log import StoredEventLog
from analytics.events import ConversationEvent, EventName
from nlu.review import ReviewQueue
from state.documents import DocumentWrite, EtagConflict, StorageError, StorageUnavailable
from state.memory_store import MemoryDocumentStore

NOW = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)


def event(n: int, at: datetime = NOW) -> ConversationEvent:
    return ConversationEvent(EventName.INTENT_RECOGNIZED, at, "webchat", f"c{n}", f"v{n}",
                             props={"intent": "orderStatus"})  # fmt: skip


class Switchable(MemoryDocumentStore):
    """A store that can be taken down."""

    down = False

    async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
        if self.down:
            raise StorageUnavailable("the database is down")
        return await super().write(writes)

    async def read(self, keys: Iterable[str]):
        if self.down:
            raise StorageUnavailable("the database is down")
        return await super().read(keys)


async def test_events_are_kept_by_day_and_read_back() -> None:
    log = StoredEventLog(MemoryDocumentStore(), 90, lambda: NOW)
    log.record(event(1))
    log.record(event(2, NOW + timedelta(minutes=2)))  # just after midnight: the next day
    await log.flush()
    assert [e.customer for e in await log.read(date(2026, 11, 24), date(2026, 11, 24))] == ["c1"]
    both = await log.read(date(2026, 11, 24), date(2026, 11, 25))
    assert sorted(e.customer for e in both) == ["c1", "c2"]


async def test_a_store_that_is_down_costs_nothing_to_record_and_loses_nothing_it_can_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_log, "MAX_BUFFERED", 5)
    store = Switchable()
    log = StoredEventLog(store, 90, lambda: NOW)
    store.down = True
    for n in range(8):
        log.record(event(n))  # never raises, never waits
    with pytest.raises(StorageUnavailable):
        await log.flush()
    assert log.dropped == 3  # the oldest three: the buffer holds five
    store.down = False
    await log.flush()
    kept = await log.read(date(2026, 11, 24), date(2026, 11, 24))
    assert sorted(e.customer for e in kept) == ["c3", "c4", "c5", "c6", "c7"]


async def test_two_instances_flushing_at_once_both_keep_their_events() -> None:
    store = MemoryDocumentStore()
    logs = [StoredEventLog(store, 90, lambda: NOW) for _ in range(2)]
    for i, log in enumerate(logs):
        for n in range(50):
            log.record(event(i * 100 + n))
    await asyncio.gather(*(log.flush() for log in logs))
    kept = await logs[0].read(date(2026, 11, 24), date(2026, 11, 24))
    assert len(kept) == 100 and len({e.customer for e in kept}) == 100


async def test_the_writer_runs_in_the_background_and_flushes_on_close() -> None:
    store = MemoryDocumentStore()
    log = StoredEventLog(store, 90, lambda: NOW, flush_seconds=0.01)
    await log.open()
    log.record(event(1))
    for _ in range(100):
        if await log.read(date(2026, 11, 24), date(2026, 11, 24)):
            break
        await asyncio.sleep(0.01)
    log.record(event(2))
    await log.close()
    assert len(await log.read(date(2026, 11, 24), date(2026, 11, 24))) == 2


async def test_messages_kept_for_review_are_forgotten_after_the_days_set() -> None:
    seconds = [0.0]
    store = MemoryDocumentStore(clock=lambda: seconds[0])
    queue = ReviewQueue(store, frozenset(), keep_days=2)
    await queue.keep("purple monkey", "none", 0.2, "notUnderstood", "webchat", NOW)
    assert len(await queue.recent(NOW, days=1)) == 1
    seconds[0] += 2 * 24 * 3600 + 1
    assert await queue.recent(NOW, days=1) == []


async def test_a_write_cut_short_by_its_deadline_keeps_its_events() -> None:
    class Hanging(MemoryDocumentStore):
        hang = True

        async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
            if self.hang:
                await asyncio.sleep(60)
            return await super().write(writes)

    store = Hanging()
    log = StoredEventLog(store, 90, lambda: NOW)
    log.record(event(1))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await log.flush()
    store.hang = False
    await log.flush()
    assert [e.customer for e in await log.read(date(2026, 11, 24), date(2026, 11, 24))] == ["c1"]


async def test_events_are_kept_for_the_retention_set_and_no_longer() -> None:
    now = [NOW.timestamp()]
    documents = MemoryDocumentStore(clock=lambda: now[0])
    log = StoredEventLog(documents, 2, lambda: NOW)
    log.record(event(1))
    await log.flush()
    day = date(2026, 11, 24)
    now[0] += 2 * 24 * 3600 - 1
    assert [e.customer for e in await log.read(day, day)] == ["c1"]
    now[0] += 1  # the events and the day's index both expire
    assert await log.read(day, day) == []
    assert await documents.read([event_log.day_key(day)]) == {}


async def test_a_full_day_drops_the_flush_counts_it_and_leaves_no_stray_document(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(event_log, "MAX_DOCUMENTS_A_DAY", 2)
    documents = MemoryDocumentStore()
    log = StoredEventLog(documents, 90, lambda: NOW)
    for flush in range(3):
        log.record(event(flush))
        log.record(event(flush + 10))
        await log.flush()
    day = date(2026, 11, 24)
    assert sorted(e.customer for e in await log.read(day, day)) == ["c0", "c1", "c10", "c11"]
    assert log.dropped == 2
    assert "analytics: 2 events of 2026-11-24 dropped: the day is full" in caplog.text
    listed = (await documents.read([event_log.day_key(day)]))[event_log.day_key(day)]
    assert len(listed.data["documents"]) == 2
    assert len([key for key in documents._entries if key.startswith("events/2026-11-24/")]) == 2


def of(customer: str, n: int, at: datetime) -> ConversationEvent:
    return ConversationEvent(EventName.HANDOFF_ENDED, at, "webchat", customer, f"v{n}")


async def test_forgetting_a_customer_deletes_their_events_of_those_days_and_the_next() -> None:
    documents = MemoryDocumentStore()
    log = StoredEventLog(documents, 90, lambda: NOW)
    monday, tuesday = datetime(2026, 11, 23, 12, tzinfo=UTC), datetime(2026, 11, 24, 9, tzinfo=UTC)
    after_midnight, week_later = NOW + timedelta(minutes=5), NOW + timedelta(days=7)
    for n, at in enumerate([monday, tuesday, after_midnight, week_later]):
        log.record(of("ana", n, at))
    log.record(of("ben", 9, tuesday))
    await log.flush()
    log.record(of("ana", 10, tuesday))  # still buffered
    log.record(of("ben", 11, tuesday))
    assert await log.forget("ana", [date(2026, 11, 24)]) == 3  # Tuesday, Wednesday, buffered
    left = await log.read(date(2026, 11, 23), date(2026, 12, 2))
    assert sorted((e.customer, e.conversation) for e in left) == [
        ("ana", "v0"), ("ana", "v3"), ("ben", "v9")]  # fmt: skip
    await log.flush()
    assert sorted(e.conversation for e in await log.read(date(2026, 11, 24), date(2026, 11, 24)))\
        == ["v11", "v9"]  # fmt: skip
    # Wednesday's document held only Ana's event: it is deleted, not kept empty.
    assert not [key for key in documents._entries if key.startswith("events/2026-11-25/")]
    assert await log.forget("ana", [date(2026, 11, 24)]) == 0
    assert await log.forget("nobody", []) == 0


async def test_forgetting_goes_on_past_another_writer_and_keeps_the_retention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class OneConflict(MemoryDocumentStore):
        conflicts = 1

        async def write(self, writes: Mapping[str, DocumentWrite]) -> dict[str, str]:
            if self.conflicts and any(w.if_match for w in writes.values()):
                self.conflicts -= 1
                raise EtagConflict("another writer")
            return await super().write(writes)

    now = [NOW.timestamp()]
    documents = OneConflict(clock=lambda: now[0])
    log = StoredEventLog(documents, 2, lambda: NOW)
    log.record(of("ana", 1, NOW))
    log.record(of("ben", 2, NOW))
    await log.flush()
    assert await log.forget("ana", [NOW.date()]) == 1
    assert [e.customer for e in await log.read(NOW.date(), NOW.date())] == ["ben"]
    now[0] += 2 * 24 * 3600  # the rewritten document keeps the retention
    assert [key for key in documents._entries if key.count("/") == 2 and
            documents._entries[key].live(now[0])] == []  # fmt: skip

    always = OneConflict()
    always.conflicts = 10**6
    stubborn = StoredEventLog(always, 90, lambda: NOW)
    stubborn.record(of("ana", 1, NOW))
    stubborn.record(of("ben", 2, NOW))
    await stubborn.flush()
    with pytest.raises(StorageError, match="kept changing while a customer was forgotten"):
        await stubborn.forget("ana", [NOW.date()])


async def test_a_full_buffer_drops_the_oldest_counts_each_and_says_so_now_and_then(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(event_log, "MAX_BUFFERED", 3)
    log = StoredEventLog(MemoryDocumentStore(), 90, lambda: NOW)
    for n in range(3 + 1000):
        log.record(event(n))
    assert log.dropped == 1000
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert warnings == [
        "analytics: 1 events dropped (the store is not keeping up)",
        "analytics: 1000 events dropped (the store is not keeping up)",
    ]
    await log.flush()
    kept = await log.read(NOW.date(), NOW.date())
    assert sorted(e.customer for e in kept) == ["c1000", "c1001", "c1002"]


async def test_a_flush_writes_at_most_so_many_events_a_document_and_reads_past_a_hundred(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_log, "MAX_PER_DOCUMENT", 2)
    documents = MemoryDocumentStore()
    log = StoredEventLog(documents, 90, lambda: NOW)
    for n in range(205):
        log.record(event(n))
    await log.flush()
    day = event_log.day_key(NOW.date())
    listed = (await documents.read([day]))[day].data["documents"]
    assert len(listed) == 103 and len(set(listed)) == 103
    assert all(key.startswith(f"{day}/") and len(key) == len(day) + 17 for key in listed)
    assert len(await log.read(NOW.date(), NOW.date())) == 205


async def test_closing_flushes_what_is_left_and_a_store_that_is_down_does_not_stop_it() -> None:
    store = Switchable()
    log = StoredEventLog(store, 90, lambda: NOW, flush_seconds=3600)
    await log.open()
    log.record(event(1))
    store.down = True
    await log.close()  # no error on the way out
    store.down = False
    assert await log.read(NOW.date(), NOW.date()) == []
    await log.flush()
    assert [e.customer for e in await log.read(NOW.date(), NOW.date())] == ["c1"]


async def test_events_already_written_are_never_overwritten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documents = MemoryDocumentStore()
    log = StoredEventLog(documents, 90, lambda: NOW)
    names = iter(["same", "same", "other"])
    monkeypatch.setattr(event_log.secrets, "token_hex", lambda _: next(names))
    log.record(event(1))
    await log.flush()
    log.record(event(2))
    with pytest.raises(StorageError):
        await log.flush()  # create-only: the first flush's document stays
    await log.flush()
    assert sorted(e.customer for e in await log.read(NOW.date(), NOW.date())) == ["c1", "c2"]


async def test_messages_kept_for_review_are_read_back_over_the_days_asked_oldest_first() -> None:
    queue = ReviewQueue(MemoryDocumentStore(), frozenset(), keep_days=30)
    for days_ago, text in ((7, "a week ago"), (3, "three days ago"), (1, "yesterday"),
                           (0, "today")):  # fmt: skip
        at = NOW - timedelta(days=days_ago)
        await queue.keep(text, "none", 0.2, "notUnderstood", "webchat", at)
    assert [e.text for e in await queue.recent(NOW, days=2)] == ["yesterday", "today"]
    # A week by default: today and the six days before.
    assert [e.text for e in await queue.recent(NOW)] == ["three days ago", "yesterday", "today"]
    assert await queue.recent(NOW - timedelta(days=8)) == []


async def test_every_event_document_goes_when_the_retention_ends_not_only_its_index() -> None:
    now = [NOW.timestamp()]
    documents = MemoryDocumentStore(clock=lambda: now[0])
    log = StoredEventLog(documents, 2, lambda: NOW)
    log.record(event(1))
    await log.flush()
    now[0] += 2 * 24 * 3600
    assert [key for key, entry in documents._entries.items() if entry.live(now[0])] == []


async def test_events_that_do_not_fit_while_a_write_fails_are_each_counted_as_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_log, "MAX_BUFFERED", 3)

    class BusyThenDown(MemoryDocumentStore):
        """Three more events arrive while the write is under way, then it fails."""

        async def write(self, writes):  # type: ignore[no-untyped-def]
            for n in range(3):
                log.record(event(100 + n))
            raise StorageUnavailable("the database is down")

    log = StoredEventLog(BusyThenDown(), 90, lambda: NOW)
    for n in range(3):
        log.record(event(n))
    with pytest.raises(StorageUnavailable):
        await log.flush()
    assert log.dropped == 3  # the newest three: the oldest are kept to be written first
    assert [e.customer for e in log._buffer] == ["c0", "c1", "c2"]


async def test_each_full_day_drop_is_added_to_the_count_and_logged_as_it_is(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(event_log, "MAX_DOCUMENTS_A_DAY", 1)
    log = StoredEventLog(MemoryDocumentStore(), 90, lambda: NOW)
    for flush in range(3):
        log.record(event(flush))
        await log.flush()
    assert log.dropped == 2
    assert [r.getMessage() for r in caplog.records] == [
        "analytics: 1 events of 2026-11-24 dropped: the day is full"] * 2  # fmt: skip


async def test_a_hung_store_cuts_a_flush_and_closing_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_log, "FLUSH_DEADLINE", 0.05)

    class Hung(MemoryDocumentStore):
        async def write(self, writes):  # type: ignore[no-untyped-def]
            await asyncio.sleep(3600)

    log = StoredEventLog(Hung(), 90, lambda: NOW, flush_seconds=3600)
    await log.open()
    log.record(event(1))
    with pytest.raises(TimeoutError):
        await log.flush()
    await log.close()  # gives up on what it cannot write, without an error
    assert [e.customer for e in log._buffer] == ["c1"]
