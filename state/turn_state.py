"""Loading and saving a turn's state so that concurrent turns never lose an update.

- In one process, turns of the same conversation or the same customer run one at
  a time (KeyedLocks on their state keys).
- Across processes, every write carries the etag it read. On a conflict the
  fresh document is read again and this turn's change is applied to it: a
  property with a recorded change (the customer context: "count a message",
  "remember order 123456") replays those changes onto the fresh value; any other
  property this turn changed takes this turn's value; the rest keep the fresh
  value. A turn that has sent nothing yet is simply run again on fresh state.
- An activity delivered again (same id: Teams redelivers after 15 s) is claimed
  once with a create-only document and not processed a second time; the claim is a
  lease, so a crash mid-turn does not lose it, and the conversation's state, saved with
  the turn, names the activity as answered.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from botbuilder.core import BotState, ConversationState, TurnContext
from botbuilder.core.bot_state import CachedBotState

from state import codec
from state.bot_storage import BotStorage
from state.documents import DocumentExists, DocumentWrite, EtagConflict, StoredDocument
from state.keyed_locks import KeyedLocks
from state.storage_health import StorageHealth

log = logging.getLogger(__name__)

Replay = Callable[[Any], Any]  # a property's fresh JSON -> with this turn's changes applied

# Bounded: after this many conflicts in a row the turn fails (and apologises).
MAX_REBASES = 5
CLAIM_TTL = 24 * 3600
# Seconds a turn holds its activity before a redelivery may take it over: inside Teams' 15 s,
# so Teams' redelivery after a crash is answered, and past the turn's own deadlines.
ACTIVITY_LEASE = 12.0

_BASE = "turnState.base"  # each key's properties as loaded, as JSON
_REPLAYS = "turnState.replays"
_DISCARDED = "turnState.discarded"
_CLAIM = "turnState.claim"
_BEFORE_SAVE = "turnState.beforeSave"
_ANSWERED_BEFORE = "turnState.answeredBefore"
# In the conversation's state: its latest activities answered (their claims' short ids), saved
# with the turn's state rather than in a write of their own (a Cosmos DB write, 5 RU, a turn).
ANSWERED_ACTIVITIES = "answeredActivities"
ANSWERED_KEPT = 8


def replay_on_conflict(turn_context: TurnContext, property_name: str, replay: Replay) -> None:
    """Registers how to apply this turn's changes of a property to a fresher copy of it."""
    turn_context.turn_state.setdefault(_REPLAYS, {})[property_name] = replay


def before_save(turn_context: TurnContext, name: str, hook: Callable[[], Awaitable[None]]) -> None:
    """Runs `hook` once before the turn's state is next saved: a property changed several
    times a turn is encoded once, at save, rather than at every change."""
    turn_context.turn_state.setdefault(_BEFORE_SAVE, {})[name] = hook


def discard_changes(turn_context: TurnContext) -> None:
    """Nothing of this turn is saved: the customer's data was just deleted."""
    turn_context.turn_state[_DISCARDED] = True


class TurnState:
    def __init__(
        self,
        storage: BotStorage,
        *states: BotState,
        health: StorageHealth | None = None,
        lease: float = ACTIVITY_LEASE,
    ) -> None:
        # Where documents are written one at a time (Cosmos DB), in this order: the customer's
        # state before the conversation's, so a failure between the two loses the dialog
        # step, not what was learned.
        self._storage = storage
        self._states = states
        self._locks = KeyedLocks()
        self.health = health or StorageHealth()
        self._lease = lease

    def _keyed(self, turn_context: TurnContext) -> list[tuple[BotState, str]]:
        """The states this activity has, with their keys (an activity without a sender,
        such as some conversationUpdates, has no user state)."""
        keyed = []
        for state in self._states:
            with contextlib.suppress(TypeError, AttributeError):
                keyed.append((state, state.get_storage_key(turn_context)))
        return keyed

    @asynccontextmanager
    async def exclusive(self, turn_context: TurnContext) -> AsyncIterator[None]:
        async with self._locks.hold(*(key for _, key in self._keyed(turn_context))):
            yield

    async def claim(self, turn_context: TurnContext) -> bool:
        """False when this activity was answered already, or is being answered now.

        A claim is a lease until it is marked answered, together with the turn's state: a
        process killed mid-turn leaves a lease that runs out, and the channel's redelivery
        (Teams: after 15 s) is then answered once."""
        activity = turn_context.activity
        if not activity.id or not activity.conversation:
            return True
        # Hashed: a claim outlives "forget me" by a day and must not name the conversation.
        named = f"{activity.channel_id}|{activity.conversation.id}|{activity.id}"
        key = f"activities/{hashlib.sha256(named.encode()).hexdigest()[:40]}"
        now = datetime.now(UTC)
        lease = {"leaseUntil": (now + timedelta(seconds=self._lease)).isoformat()}
        try:
            await self._storage.documents.write(
                {key: DocumentWrite(lease, create_only=True, ttl=CLAIM_TTL)}
            )
        except DocumentExists:
            if not await self._take_over(key, lease, now):
                return False
        turn_context.turn_state[_CLAIM] = key
        return True

    def answered_before(self, turn_context: TurnContext) -> bool:
        """After `load`: the conversation's state says this activity was answered (a
        redelivery after its claim's lease ran out)."""
        return bool(turn_context.turn_state.get(_ANSWERED_BEFORE))

    def _conversation(self, turn_context: TurnContext) -> CachedBotState | None:
        for state, _ in self._keyed(turn_context):
            if isinstance(state, ConversationState):
                return state.get_cached_state(turn_context)
        return None

    def _remember_answered(self, turn_context: TurnContext) -> None:
        claim = turn_context.turn_state.get(_CLAIM)
        conversation = self._conversation(turn_context)
        if claim is None or conversation is None:
            return
        answered = _short(claim)

        def remembered(ids: Any) -> list[str]:
            kept = [i for i in ids or [] if i != answered]
            return [*kept[-(ANSWERED_KEPT - 1) :], answered]

        conversation.state[ANSWERED_ACTIVITIES] = remembered(
            conversation.state.get(ANSWERED_ACTIVITIES)
        )
        replay_on_conflict(turn_context, ANSWERED_ACTIVITIES, remembered)

    async def _take_over(self, key: str, lease: dict, now: datetime) -> bool:
        """The claim of a turn that was never answered, once its lease has run out."""
        held = (await self._storage.documents.read([key])).get(key)
        if held is None or held.data.get("answered"):
            return False
        lease_until = held.data.get("leaseUntil")
        if lease_until is None or datetime.fromisoformat(lease_until) > now:
            return False  # being answered right now
        try:
            await self._storage.documents.write(
                {key: DocumentWrite(lease, if_match=held.etag, ttl=CLAIM_TTL)}
            )
        except EtagConflict:
            return False  # another delivery took it over first
        log.warning("activity claimed by a turn that never finished (a crash?): answering it")
        return True

    def _answered(self, turn_context: TurnContext) -> dict[str, DocumentWrite]:
        key = turn_context.turn_state.get(_CLAIM)
        if key is None:
            return {}
        return {key: DocumentWrite({"answered": True}, ttl=CLAIM_TTL)}

    async def load(self, turn_context: TurnContext) -> None:
        """Reads every state of the turn in one storage call."""
        turn_context.turn_state[_BASE] = {}
        turn_context.turn_state[_REPLAYS] = {}
        keyed = self._keyed(turn_context)
        found = await self._storage.documents.read([key for _, key in keyed])
        for state, key in keyed:
            stored = found.get(key)
            # A state not stored yet is {"e_tag": None}, not {}: botbuilder reads an empty
            # state again on every property access.
            item = self._storage.item(key, stored.data, stored.etag) if stored else {"e_tag": None}
            # The stored JSON is the state as JSON already (what was not read is left out).
            base = (
                {name: value for name, value in stored.data.items() if name in item}
                if stored
                else {}
            )
            turn_context.turn_state[_BASE][key] = base
            turn_context.turn_state[state._context_service_key] = _JsonCachedState(item, base)
        claim, conversation = turn_context.turn_state.get(_CLAIM), self._conversation(turn_context)
        turn_context.turn_state[_ANSWERED_BEFORE] = bool(
            claim
            and conversation
            and _short(claim) in conversation.state.get(ANSWERED_ACTIVITIES, [])
        )

    async def save(self, turn_context: TurnContext, *, rebase: bool = True) -> None:
        """Writes what changed, in one storage call; on a conflict rebases the document that
        changed under the turn and writes again (or, with rebase=False, raises)."""
        if turn_context.turn_state.get(_DISCARDED):
            await self._storage.documents.write(self._answered(turn_context))
            return
        for hook in turn_context.turn_state.pop(_BEFORE_SAVE, {}).values():
            await hook()
        self._remember_answered(turn_context)
        pending: dict[str, tuple[CachedBotState, dict, str]] = {}
        for state, key in self._keyed(turn_context):
            cached = state.get_cached_state(turn_context)
            if cached is None:
                continue
            current = _as_json(cached.state)  # encoded once: compared, then written
            fingerprint = _fingerprint(current)
            if fingerprint != cached.hash:
                pending[key] = (cached, current, fingerprint)
        # One call where the store writes several documents all or none (SQLite, memory);
        # one document a call where it cannot (Cosmos DB), so a conflict never hides
        # which writes already happened. The activity is marked answered in the
        # conversation's document, written last.
        if self._storage.documents.writes_atomically:
            await self._write_batch(turn_context, pending, rebase)
        else:
            for key in pending:
                await self._write_batch(turn_context, {key: pending[key]}, rebase)
        self.health.saved()

    async def _write_batch(
        self,
        turn_context: TurnContext,
        pending: dict[str, tuple[CachedBotState, dict, str]],
        rebase: bool,
    ) -> None:
        for attempt in range(MAX_REBASES + 1):
            try:
                etags = await self._storage.documents.write(
                    {key: self._document(key, cached.state, current)
                     for key, (cached, current, _) in pending.items()}
                )  # fmt: skip
            except EtagConflict as conflict:
                if not rebase or attempt == MAX_REBASES or conflict.key not in pending:
                    raise
                log.info("state %s changed under this turn: applying the turn's change again",
                         conflict.key)  # fmt: skip
                cached = pending[conflict.key][0]
                fresh = (await self._storage.documents.read([conflict.key])).get(conflict.key)
                self._rebase(turn_context, conflict.key, cached.state, fresh)
                current = _as_json(cached.state)
                pending[conflict.key] = (cached, current, _fingerprint(current))
                continue
            for key, (cached, _, fingerprint) in pending.items():
                cached.state["e_tag"] = etags[key]
                cached.hash = fingerprint
            return

    def _document(self, key: str, item: dict, encoded: dict) -> DocumentWrite:
        etag = item.get("e_tag")
        return DocumentWrite(
            encoded,
            if_match=None if etag in (None, "*") else etag,
            # Nothing was stored when the turn read: two first turns must not both "create".
            create_only=etag is None,
            ttl=self._storage.ttl.for_key(key),
        )

    def _rebase(
        self, turn_context: TurnContext, key: str, item: dict, fresh: StoredDocument | None
    ) -> None:
        base = turn_context.turn_state[_BASE].get(key, {})
        mine = _as_json(item)
        theirs = fresh.data if fresh else {}
        replays = turn_context.turn_state.get(_REPLAYS, {})
        merged = {}
        for name in {*base, *mine, *theirs}:
            if name in replays:
                value = replays[name](theirs.get(name))
            elif mine.get(name) != base.get(name):
                value = mine.get(name)
            else:
                value = theirs.get(name)
            if value is not None:
                merged[name] = value
        rebased = (
            self._storage.item(key, merged, fresh.etag)
            if fresh
            else {name: codec.decode(value) for name, value in merged.items()}
        )
        item.clear()
        item.update(rebased)
        turn_context.turn_state[_BASE][key] = theirs


class _JsonCachedState(CachedBotState):
    """botbuilder's cached state, compared as JSON: its own jsonpickle hash of every
    state at load and save was a sixth of a turn's CPU."""

    def __init__(self, state: dict, base: dict) -> None:
        self.state = state
        self.hash = _fingerprint(base)

    def compute_hash(self, obj: object) -> bytes:
        return _fingerprint(_as_json(obj if isinstance(obj, dict) else {}))


def _short(claim: str) -> str:
    return claim.rsplit("/", 1)[-1][:16]


def _fingerprint(data: dict) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)


def _as_json(item: dict) -> dict:
    return {name: codec.encode(value) for name, value in item.items() if name != "e_tag"}
