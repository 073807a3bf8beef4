"""What a turn costs in Cosmos DB: requests, bytes and request units.

The local Cosmos DB API server (tests/peers/cosmos.js) counts each document request with
the bytes of the document it wrote or returned; it sends no `x-ms-request-charge`, so
request units come from Azure's published charges by document size (session consistency,
default indexing: https://learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption),
each document charged at the first size at or above its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

# Document size (KB) -> request units of a point read, and of a write (create, replace,
# upsert), as published.
PUBLISHED_CHARGES: tuple[tuple[int, float, float], ...] = (
    (1, 1.00, 4.95),
    (2, 1.04, 6.29),
    (4, 1.14, 6.67),
    (8, 1.33, 7.04),
    (16, 1.67, 9.52),
    (32, 2.19, 11.23),
    (64, 4.76, 22.67),
    (128, 9.95, 48.19),
    (256, 20.28, 98.29),
    (512, 40.95, 184.57),
    (1024, 145.90, 625.00),
    (2048, 291.80, 1250.00),
)


def request_units(kind: str, size_bytes: int) -> float:
    """A point read's or a write's charge for a document of this size; a read that found
    nothing is charged as the smallest read; a delete as the smallest write."""
    for kb, read, write in PUBLISHED_CHARGES:
        if size_bytes <= kb * 1024:
            return read if kind == "read" else write
    return PUBLISHED_CHARGES[-1][1 if kind == "read" else 2]


@dataclass
class CosmosCost:
    """Per turn, averaged over a run."""

    reads: float
    writes: float
    deletes: float
    queries: float
    kb_read: float
    kb_written: float
    request_units: float


async def counts(endpoint: str) -> dict:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{endpoint}/_counts", ssl=False) as response,
    ):
        return await response.json()


def per_turn(before: dict, after: dict, turns: int) -> CosmosCost:
    """The requests between two counts, per turn (queries are counted, not charged: a turn
    makes none)."""

    def new(kind: str) -> tuple[int, list[int]]:
        now, then = after.get(kind, {}), before.get(kind, {})
        requests = now.get("requests", 0) - then.get("requests", 0)
        sizes = now.get("documentBytes", [])[len(then.get("documentBytes", [])) :]
        return requests, sizes

    (reads, read_sizes), (writes, written) = new("read"), new("write")
    deletes, _ = new("delete")
    queries, _ = new("query")
    missing = reads - len(read_sizes)  # a read of a document not there yet: 404
    units = (
        sum(request_units("read", size) for size in read_sizes)
        + missing * request_units("read", 0)
        + sum(request_units("write", size) for size in written)
        + deletes * request_units("write", 0)
    )
    turns = max(turns, 1)
    return CosmosCost(
        round(reads / turns, 2), round(writes / turns, 2), round(deletes / turns, 2),
        round(queries / turns, 2), round(sum(read_sizes) / 1024 / turns, 2),
        round(sum(written) / 1024 / turns, 2), round(units / turns, 1),
    )  # fmt: skip
