"""Identity: which customer a channel account belongs to, and joining accounts into one.

Plain Python over the DocumentStore contract. Documents:
    identity/accounts/<account key>   {"customerId", "linkedAt"}      the account -> customer map
    identity/codes/<XXX-XXX>          {"customerId", "expiresAt"}     a link code, single use
    identity/attempts/<account key>/<n>  {"at": iso time}            one of an account's link tries
    identity/link-tries/<minute>      {"count": n}                    link tries of all accounts
    customers/<customer id>           {"customerContext": {...}}      the customer's context
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cachetools import LRUCache

from customers.accounts import ChannelAccount, signed_customer_id
from customers.context import CustomerContext, merge_contexts
from customers.directory import CustomerDirectory
from customers.link_codes import (
    CODE_LIFETIME,
    MAX_LINK_TRIES_PER_MINUTE,
    MAX_WRONG_CODES,
    WRONG_CODE_WINDOW,
    new_code,
)
from state.documents import DocumentExists, DocumentStore, DocumentWrite, EtagConflict

log = logging.getLogger(__name__)

CONTEXT_PROPERTY = "customerContext"
_RETRIES = 5
# Concurrent tries of all accounts contend for one counter a minute.
_COUNT_RETRIES = 20
# Account -> customer pairs this process has read or written, so that a returning
# customer's turn does not read its mapping again (about 150 bytes a pair).
REMEMBERED_ACCOUNTS = 100_000

EmailLookup = Callable[[], Awaitable[str | None]]


def customer_key(customer_id: str) -> str:
    return f"customers/{customer_id}"


def _account_key(account_key: str) -> str:
    return f"identity/accounts/{account_key}"


def _code_key(code: str) -> str:
    return f"identity/codes/{code}"


def _attempt_slot_key(account_key: str, slot: int) -> str:
    return f"identity/attempts/{account_key}/{slot}"


def _attempt_slot_keys(account_key: str) -> list[str]:
    return [_attempt_slot_key(account_key, slot) for slot in range(MAX_WRONG_CODES)]


def _minute_key(minute: datetime) -> str:
    return f"identity/link-tries/{minute:%Y%m%dT%H%M}"


class LinkOutcome(StrEnum):
    LINKED = "linked"
    ALREADY_LINKED = "alreadyLinked"
    WRONG_CODE = "wrongCode"
    TOO_MANY_TRIES = "tooManyTries"
    # Too many tries from all accounts this minute: someone is guessing at scale.
    LINKING_PAUSED = "linkingPaused"


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    customer_id: str


class IdentityService:
    def __init__(
        self,
        documents: DocumentStore,
        directory: CustomerDirectory,
        signing_key: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._documents = documents
        self._directory = directory
        self._signing_key = signing_key
        self._clock = clock
        self._remembered: LRUCache[str, str] = LRUCache(maxsize=REMEMBERED_ACCOUNTS)

    def remembered(self, account: ChannelAccount) -> str | None:
        """The customer this process last saw this account map to, without reading storage.

        Another instance may have linked, unlinked or forgotten the account since: the
        caller confirms the answer against the customer's context (which lists the
        customer's accounts) and calls `resolve` when it does not hold."""
        customer_id = self._remembered.get(account.key)
        signed = signed_customer_id(account, self._signing_key)
        return customer_id if customer_id and (signed is None or signed == customer_id) else None

    async def resolve(
        self, account: ChannelAccount, email_lookup: EmailLookup | None = None
    ) -> str:
        """The customer id for this account; a new anonymous customer the first time."""
        signed = signed_customer_id(account, self._signing_key)
        mapped = await self._mapped(account.key)
        if signed:
            if mapped != signed:
                await self._map(account.key, signed)
            return signed
        if mapped:
            return mapped
        customer_id = await self._from_directory(email_lookup) or f"c-{uuid.uuid4().hex[:16]}"
        try:
            await self._map(account.key, customer_id, create_only=True)
        except DocumentExists:  # another turn of this account got here first
            return await self._mapped(account.key) or customer_id
        return customer_id

    async def issue_code(self, customer_id: str) -> str:
        expires_at = self._clock() + CODE_LIFETIME
        while True:
            code = new_code()
            record = {"customerId": customer_id, "expiresAt": expires_at.isoformat()}
            ttl = int(CODE_LIFETIME.total_seconds())
            try:
                await self._documents.write(
                    {_code_key(code): DocumentWrite(record, create_only=True, ttl=ttl)}
                )
                return code
            except DocumentExists:
                continue  # one in 887 million: draw again

    async def redeem(self, code: str, account: ChannelAccount, customer_id: str) -> LinkResult:
        """Joins this account's customer into the customer who was given `code`.

        A try is recorded before the code is looked at, atomically (a create-only or
        etag-matched write of one of the account's MAX_WRONG_CODES slots), so no burst of
        concurrent messages on any number of instances evaluates more; a try that cannot be
        recorded is refused. Right codes give their slot back."""
        slot = await self._take_try_slot(account.key)
        if slot is None:
            return LinkResult(LinkOutcome.TOO_MANY_TRIES, customer_id)
        if not await self._count_try_everywhere():
            return LinkResult(LinkOutcome.LINKING_PAUSED, customer_id)
        stored = (await self._documents.read([_code_key(code)])).get(_code_key(code))
        valid = (
            stored is not None
            and not stored.data.get("used")
            and datetime.fromisoformat(stored.data["expiresAt"]) > self._clock()
        )
        if not valid:
            return LinkResult(LinkOutcome.WRONG_CODE, customer_id)
        await self._documents.delete([slot])
        target = stored.data["customerId"]
        if target == customer_id:
            return LinkResult(LinkOutcome.ALREADY_LINKED, customer_id)
        try:  # single use: whoever marks it used first wins
            await self._documents.write(
                {_code_key(code): DocumentWrite({**stored.data, "used": True}, stored.etag)}
            )
        except EtagConflict:
            return LinkResult(LinkOutcome.WRONG_CODE, customer_id)
        await self._merge(target, customer_id, account)
        return LinkResult(LinkOutcome.LINKED, target)

    async def unlink(self, account: ChannelAccount, customer_id: str) -> str:
        """This account leaves its customer and becomes a new anonymous one."""
        new_customer = f"c-{uuid.uuid4().hex[:16]}"
        await self._map(account.key, new_customer)

        def without_account(context: CustomerContext) -> CustomerContext:
            context.channel_accounts = [
                a for a in context.channel_accounts if a.account != account.key
            ]
            context.last_inbound_at.pop(account.key, None)
            return context

        await self._change_context(customer_id, without_account)
        return new_customer

    async def forget(self, customer_id: str) -> None:
        """Deletes the customer's context, identity links, every conversation held for them,
        and their hand-off cases and tickets."""
        context = await self._context(customer_id)
        accounts = [record.account for record in context.channel_accounts]
        for account in accounts:
            self._remembered.pop(account, None)
        await self._documents.delete(
            [
                *context.conversations,
                *context.handoff_records,
                *(_code_key(code) for code in context.link_codes),
                *(_account_key(account) for account in accounts),
                *(key for account in accounts for key in _attempt_slot_keys(account)),
                customer_key(customer_id),
            ]
        )

    # --- accounts --------------------------------------------------------------

    async def _mapped(self, account_key: str) -> str | None:
        stored = (await self._documents.read([_account_key(account_key)])).get(
            _account_key(account_key)
        )
        if stored is None:
            self._remembered.pop(account_key, None)
            return None
        self._remembered[account_key] = stored.data["customerId"]
        return stored.data["customerId"]

    async def _map(self, account_key: str, customer_id: str, *, create_only: bool = False) -> None:
        record = {"customerId": customer_id, "linkedAt": self._clock().isoformat()}
        await self._documents.write(
            {_account_key(account_key): DocumentWrite(record, create_only=create_only)}
        )
        self._remembered[account_key] = customer_id

    async def _from_directory(self, email_lookup: EmailLookup | None) -> str | None:
        if email_lookup is None:
            return None
        email = await email_lookup()
        found = await self._directory.find(email=email) if email else None
        return found.customer_id if found else None

    # --- link tries ------------------------------------------------------------

    async def _take_try_slot(self, account_key: str) -> str | None:
        """The key of the try slot this try took; None when every slot holds a try from
        the last WRONG_CODE_WINDOW. A slot is taken by a write that fails if another try
        took it first, so each slot is given to one try only."""
        keys = _attempt_slot_keys(account_key)
        stored = await self._documents.read(keys)
        since = self._clock() - WRONG_CODE_WINDOW
        ttl = int(WRONG_CODE_WINDOW.total_seconds())
        for key in keys:
            held = stored.get(key)
            if held is not None and datetime.fromisoformat(held.data["at"]) > since:
                continue
            write = DocumentWrite(
                {"at": self._now()},
                if_match=held.etag if held else None,
                create_only=held is None,
                ttl=ttl,
            )
            try:
                await self._documents.write({key: write})
            except EtagConflict:  # another try took this slot: look at the next
                continue
            return key
        return None

    async def _count_try_everywhere(self) -> bool:
        """Counts this try among all accounts' tries this minute; False past the limit, or
        when the count cannot be recorded (a try that is not counted is not made)."""
        key = _minute_key(self._clock())
        for _ in range(_COUNT_RETRIES):
            stored = (await self._documents.read([key])).get(key)
            count = (stored.data["count"] if stored else 0) + 1
            if count > MAX_LINK_TRIES_PER_MINUTE:
                log.warning("link tries from all accounts passed %d this minute: paused",
                            MAX_LINK_TRIES_PER_MINUTE)  # fmt: skip
                return False
            write = DocumentWrite(
                {"count": count},
                if_match=stored.etag if stored else None,
                create_only=stored is None,
                ttl=2 * 60,  # the minute it counts, and a minute of grace for clock skew
            )
            try:
                await self._documents.write({key: write})
                return True
            except EtagConflict:
                await asyncio.sleep(random.uniform(0, 0.02))
        log.warning("a link try could not be counted (%d conflicts): refused", _COUNT_RETRIES)
        return False

    def _now(self) -> str:
        return self._clock().isoformat()

    # --- customer contexts -----------------------------------------------------

    async def _context(self, customer_id: str) -> CustomerContext:
        stored = (await self._documents.read([customer_key(customer_id)])).get(
            customer_key(customer_id)
        )
        return CustomerContext.from_json(stored.data.get(CONTEXT_PROPERTY) if stored else None)

    async def _change_context(
        self, customer_id: str, change: Callable[[CustomerContext], CustomerContext]
    ) -> None:
        key = customer_key(customer_id)
        for _ in range(_RETRIES):
            stored = (await self._documents.read([key])).get(key)
            if stored is None:
                return
            context = change(CustomerContext.from_json(stored.data.get(CONTEXT_PROPERTY)))
            data = {**stored.data, CONTEXT_PROPERTY: context.to_json()}
            try:
                await self._documents.write({key: DocumentWrite(data, stored.etag)})
                return
            except EtagConflict:
                continue
        raise EtagConflict(key)

    async def _merge(self, target: str, source: str, account: ChannelAccount) -> None:
        """Moves everything of `source` into `target` and points its accounts there."""
        source_context = await self._context(source)

        def joined(context: CustomerContext) -> CustomerContext:
            newer, older = sorted((context, source_context), key=_last_seen, reverse=True)
            return merge_contexts(newer, older)

        target_key = customer_key(target)
        if (await self._documents.read([target_key])).get(target_key) is None:
            # The customer who asked for the code has no context yet: start it empty.
            empty = {CONTEXT_PROPERTY: CustomerContext().to_json()}
            with contextlib.suppress(DocumentExists):
                await self._documents.write({target_key: DocumentWrite(empty, create_only=True)})
        await self._change_context(target, joined)
        accounts = {record.account for record in source_context.channel_accounts} | {account.key}
        for account_key in accounts:
            await self._map(account_key, target)
        await self._documents.delete([customer_key(source)])
        log.info("customer accounts joined: %d account(s) moved", len(accounts))


def _last_seen(context: CustomerContext) -> datetime:
    return max(context.last_inbound_at.values(), default=datetime.min.replace(tzinfo=UTC))
