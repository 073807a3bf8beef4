"""The identity service: accounts to customers, link codes and their limits, unlinking and
forgetting, over the memory store (the document contract every store keeps)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from customers import identity as identity_module
from customers.accounts import ChannelAccount, sign_customer_id
from customers.context import ChannelAccountRecord, CustomerContext
from customers.directory import DemoCustomerDirectory
from customers.identity import CONTEXT_PROPERTY, IdentityService, LinkOutcome, customer_key
from customers.link_codes import (
    CODE_LIFETIME,
    MAX_LINK_TRIES_PER_MINUTE,
    MAX_WRONG_CODES,
    WRONG_CODE_WINDOW,
)
from state.documents import DocumentWrite, EtagConflict
from state.memory_store import MemoryDocumentStore
from tests.conftest import NOW, MovableClock, YieldingStore

WEB = ChannelAccount("webchat", "visitor-1")
TEAMS = ChannelAccount("msteams", "29:alex", "aad-alex", "tenant-1")


def service(
    clock: MovableClock | None = None, documents: MemoryDocumentStore | None = None
) -> tuple[IdentityService, MemoryDocumentStore, MovableClock]:
    clock = clock or MovableClock()
    documents = documents or MemoryDocumentStore()
    return IdentityService(documents, DemoCustomerDirectory(), "key", clock), documents, clock


async def store_context(documents: MemoryDocumentStore, customer_id: str, **fields) -> None:
    context = CustomerContext(**fields).to_json()
    await documents.write({customer_key(customer_id): DocumentWrite({CONTEXT_PROPERTY: context})})


async def stored_context(documents: MemoryDocumentStore, customer_id: str) -> dict | None:
    stored = (await documents.read([customer_key(customer_id)])).get(customer_key(customer_id))
    return stored.data[CONTEXT_PROPERTY] if stored else None


def record(account: ChannelAccount) -> ChannelAccountRecord:
    return ChannelAccountRecord(
        account=account.key, channel=account.channel, user_id=account.user_id, linked_at=NOW
    )


async def test_a_new_account_is_a_new_anonymous_customer_and_stays_the_same_one() -> None:
    identity, _, _ = service()
    first = await identity.resolve(WEB)
    assert re.fullmatch(r"c-[0-9a-f]{16}", first)
    assert await identity.resolve(WEB) == first
    assert await identity.resolve(ChannelAccount("webchat", "visitor-2")) != first
    # Another instance over the same store reads the same mapping.
    elsewhere, _, _ = service(documents=identity._documents)
    assert await elsewhere.resolve(WEB) == first


async def test_a_known_email_resolves_to_the_directorys_customer() -> None:
    identity, _, _ = service()

    async def email() -> str | None:
        return "alex.morgan@example.com"

    assert await identity.resolve(TEAMS, email) == "crm-1001"
    assert await identity.resolve(TEAMS) == "crm-1001"  # mapped: not looked up again


async def test_a_signed_id_wins_over_what_the_account_was_mapped_to() -> None:
    identity, _, _ = service()
    signed = ChannelAccount("webchat", sign_customer_id("crm-7", "key"))
    await identity._map(signed.key, "c-somebody-else")
    assert await identity.resolve(signed) == "crm-7"
    assert identity.remembered(signed) == "crm-7"
    # Signed with another key: an ordinary anonymous account.
    forged = ChannelAccount("webchat", sign_customer_id("crm-7", "other"))
    assert (await identity.resolve(forged)).startswith("c-")


async def test_a_code_joins_the_account_into_the_customer_who_was_given_it() -> None:
    identity, documents, _ = service()
    alex = await identity.resolve(TEAMS)
    visitor = await identity.resolve(WEB)
    await store_context(documents, alex, channel_accounts=[record(TEAMS)], message_count=2)
    await store_context(documents, visitor, channel_accounts=[record(WEB)], message_count=3)
    code = await identity.issue_code(alex)
    assert re.fullmatch(r"[A-Z2-9]{3}-[A-Z2-9]{3}", code)

    result = await identity.redeem(code, WEB, visitor)
    assert (result.outcome, result.customer_id) == (LinkOutcome.LINKED, alex)
    assert await identity.resolve(WEB) == alex
    joined = await stored_context(documents, alex)
    assert joined is not None and joined["messageCount"] == 5
    assert {a["account"] for a in joined["channelAccounts"]} == {TEAMS.key, WEB.key}
    assert await stored_context(documents, visitor) is None  # moved, not copied

    # Single use: the same code from another account is wrong.
    other = ChannelAccount("facebook", "psid-1")
    again = await identity.redeem(code, other, await identity.resolve(other))
    assert again.outcome == LinkOutcome.WRONG_CODE


async def test_a_code_works_until_it_expires() -> None:
    identity, _, clock = service()
    alex = await identity.resolve(TEAMS)
    code = await identity.issue_code(alex)
    clock.now += CODE_LIFETIME
    visitor = await identity.resolve(WEB)
    assert (await identity.redeem(code, WEB, visitor)).outcome == LinkOutcome.WRONG_CODE

    fresh = await identity.issue_code(alex)
    clock.now += CODE_LIFETIME - timedelta(seconds=1)
    assert (await identity.redeem(fresh, WEB, visitor)).outcome == LinkOutcome.LINKED


async def test_a_customers_own_code_is_already_linked_and_costs_no_try() -> None:
    identity, _, _ = service()
    alex = await identity.resolve(TEAMS)
    for _ in range(MAX_WRONG_CODES + 1):
        code = await identity.issue_code(alex)
        result = await identity.redeem(code, TEAMS, alex)
        assert (result.outcome, result.customer_id) == (LinkOutcome.ALREADY_LINKED, alex)


async def test_wrong_codes_are_limited_per_account_for_an_hour() -> None:
    identity, _, clock = service()
    alex = await identity.resolve(TEAMS)
    visitor = await identity.resolve(WEB)
    for _ in range(MAX_WRONG_CODES):
        assert (await identity.redeem("AAA-AAA", WEB, visitor)).outcome == LinkOutcome.WRONG_CODE
    right = await identity.issue_code(alex)
    # Refused even though right: the limit is on tries, not on wrong answers seen.
    assert (await identity.redeem(right, WEB, visitor)).outcome == LinkOutcome.TOO_MANY_TRIES
    # Another account is not limited by this one's tries.
    other = ChannelAccount("facebook", "psid-2")
    other_id = await identity.resolve(other)
    assert (await identity.redeem("BBB-BBB", other, other_id)).outcome == LinkOutcome.WRONG_CODE

    clock.now += WRONG_CODE_WINDOW - timedelta(seconds=1)
    assert (await identity.redeem(right, WEB, visitor)).outcome == LinkOutcome.TOO_MANY_TRIES
    clock.now += timedelta(seconds=2)
    right = await identity.issue_code(alex)
    assert (await identity.redeem(right, WEB, visitor)).outcome == LinkOutcome.LINKED


async def test_a_right_code_gives_its_try_back() -> None:
    identity, _, _ = service()
    alex = await identity.resolve(TEAMS)
    visitor = await identity.resolve(WEB)
    for _ in range(MAX_WRONG_CODES - 1):
        await identity.redeem("AAA-AAA", WEB, visitor)
    assert (await identity.redeem(await identity.issue_code(visitor), WEB, visitor)).outcome == (
        LinkOutcome.ALREADY_LINKED
    )
    # Its slot was given back: one more wrong code is still a wrong code, not the limit.
    assert (await identity.redeem("AAA-AAA", WEB, visitor)).outcome == LinkOutcome.WRONG_CODE
    assert (await identity.redeem("AAA-AAA", WEB, visitor)).outcome == LinkOutcome.TOO_MANY_TRIES
    assert alex != visitor


async def test_tries_from_all_accounts_are_limited_per_minute() -> None:
    identity, _, clock = service()
    clock.now = NOW.replace(second=0)
    outcomes = []
    for n in range(MAX_LINK_TRIES_PER_MINUTE + 1):
        account = ChannelAccount("webchat", f"guesser-{n}")
        outcomes.append((await identity.redeem("AAA-AAA", account, f"c-{n}")).outcome)
    assert outcomes[:-1] == [LinkOutcome.WRONG_CODE] * MAX_LINK_TRIES_PER_MINUTE
    assert outcomes[-1] == LinkOutcome.LINKING_PAUSED
    clock.now += timedelta(minutes=1)
    late = ChannelAccount("webchat", "guesser-late")
    assert (await identity.redeem("AAA-AAA", late, "c-late")).outcome == LinkOutcome.WRONG_CODE


async def test_unlinking_makes_the_account_a_new_customer_and_the_old_one_forgets_it() -> None:
    identity, documents, _ = service()
    alex = await identity.resolve(TEAMS)
    await store_context(
        documents, alex, channel_accounts=[record(TEAMS), record(WEB)],
        last_inbound_at={TEAMS.key: NOW, WEB.key: NOW},
    )  # fmt: skip
    await identity._map(WEB.key, alex)
    moved = await identity.unlink(WEB, alex)
    assert moved.startswith("c-") and moved != alex
    assert await identity.resolve(WEB) == moved
    kept = await stored_context(documents, alex)
    assert kept is not None
    assert [a["account"] for a in kept["channelAccounts"]] == [TEAMS.key]
    assert set(kept["lastInboundAt"]) == {TEAMS.key}


async def test_forgetting_deletes_everything_kept_about_the_customer() -> None:
    identity, documents, _ = service()
    alex = await identity.resolve(TEAMS)
    code = await identity.issue_code(alex)
    await identity.redeem("AAA-AAA", TEAMS, alex)  # a try slot
    kept = ("conversations/1", "handoff/cases/1", "unrelated/1")
    await documents.write({key: DocumentWrite({"kept": True}) for key in kept})
    await store_context(
        documents, alex, channel_accounts=[record(TEAMS)], conversations=["conversations/1"],
        handoff_records=["handoff/cases/1"], link_codes=[code],
    )  # fmt: skip
    await identity.forget(alex)
    remaining = await documents.read(
        ["conversations/1", "handoff/cases/1", f"identity/codes/{code}", customer_key(alex),
         f"identity/accounts/{TEAMS.key}", f"identity/attempts/{TEAMS.key}/0", "unrelated/1"]
    )  # fmt: skip
    assert set(remaining) == {"unrelated/1"}
    assert identity.remembered(TEAMS) is None
    # The account comes back as a stranger.
    assert await identity.resolve(TEAMS) != alex


async def test_every_account_of_the_joining_customer_moves_and_the_later_seen_wins() -> None:
    identity, documents, _ = service()
    alex = await identity.resolve(TEAMS)
    visitor = await identity.resolve(WEB)
    messenger = ChannelAccount("facebook", "psid-9")
    await identity._map(messenger.key, visitor)
    await store_context(documents, alex, channel_accounts=[record(TEAMS)],
                        last_intent="help", last_inbound_at={TEAMS.key: NOW})  # fmt: skip
    # The visitor wrote last: their newest values win where both have one.
    await store_context(
        documents, visitor, channel_accounts=[record(WEB), record(messenger)],
        last_intent="orderStatus", last_inbound_at={WEB.key: NOW + timedelta(hours=1)},
    )  # fmt: skip
    result = await identity.redeem(await identity.issue_code(alex), WEB, visitor)
    assert result.outcome == LinkOutcome.LINKED
    assert await identity.resolve(messenger) == alex
    joined = await stored_context(documents, alex)
    assert joined is not None and joined["lastIntent"] == "orderStatus"
    assert {a["account"] for a in joined["channelAccounts"]} == {
        TEAMS.key, WEB.key, messenger.key
    }  # fmt: skip


async def test_a_code_from_a_customer_with_no_context_yet_still_joins() -> None:
    identity, documents, _ = service()
    alex = await identity.resolve(TEAMS)  # mapped, but nothing stored about them yet
    visitor = await identity.resolve(WEB)
    await store_context(documents, visitor, channel_accounts=[record(WEB)], message_count=4,
                        last_inbound_at={WEB.key: NOW})  # fmt: skip
    result = await identity.redeem(await identity.issue_code(alex), WEB, visitor)
    assert (result.outcome, result.customer_id) == (LinkOutcome.LINKED, alex)
    joined = await stored_context(documents, alex)
    assert joined is not None and joined["messageCount"] == 4


class _OneConflict(MemoryDocumentStore):
    """Another instance changes `key` just before this one's first write of it."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.conflicts = 0

    async def write(self, writes):  # type: ignore[no-untyped-def]
        write = writes.get(self.key)
        if write is not None and write.if_match is not None and not self.conflicts:
            self.conflicts += 1
            stored = (await self.read([self.key]))[self.key]
            changed = {**stored.data}
            changed[CONTEXT_PROPERTY] = {**changed[CONTEXT_PROPERTY], "lastIntent": "help"}
            await super().write({self.key: DocumentWrite(changed, stored.etag)})
        return await super().write(writes)


async def test_a_customer_changed_during_the_join_is_joined_with_the_change() -> None:
    documents = _OneConflict(customer_key("crm-alex"))
    identity, _, _ = service(documents=documents)
    await identity._map(TEAMS.key, "crm-alex")
    visitor = await identity.resolve(WEB)
    await store_context(documents, "crm-alex", channel_accounts=[record(TEAMS)])
    await store_context(documents, visitor, channel_accounts=[record(WEB)], message_count=2)
    result = await identity.redeem(await identity.issue_code("crm-alex"), WEB, visitor)
    assert result.outcome == LinkOutcome.LINKED and documents.conflicts == 1
    joined = await stored_context(documents, "crm-alex")
    assert joined is not None
    assert joined["lastIntent"] == "help" and joined["messageCount"] == 2


async def test_tries_made_at_once_are_each_counted_and_the_limit_holds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    identity, _, clock = service(documents=YieldingStore())
    clock.now = NOW.replace(second=0)
    guessers = [
        ChannelAccount("webchat", f"guesser-{n}") for n in range(MAX_LINK_TRIES_PER_MINUTE + 10)
    ]
    results = await asyncio.gather(
        *(identity.redeem("AAA-AAA", account, f"c-{n}") for n, account in enumerate(guessers))
    )
    outcomes = [result.outcome for result in results]
    assert outcomes.count(LinkOutcome.WRONG_CODE) == MAX_LINK_TRIES_PER_MINUTE
    assert outcomes.count(LinkOutcome.LINKING_PAUSED) == 10
    assert (
        f"link tries from all accounts passed {MAX_LINK_TRIES_PER_MINUTE} this minute: paused"
        in caplog.text
    )


async def test_one_accounts_tries_made_at_once_take_one_slot_each() -> None:
    identity, _, clock = service(documents=YieldingStore())
    visitor = await identity.resolve(WEB)
    results = await asyncio.gather(
        *(identity.redeem("AAA-AAA", WEB, visitor) for _ in range(MAX_WRONG_CODES + 3))
    )
    outcomes = [result.outcome for result in results]
    assert outcomes.count(LinkOutcome.WRONG_CODE) == MAX_WRONG_CODES
    assert outcomes.count(LinkOutcome.TOO_MANY_TRIES) == 3
    # An hour on, the slots are taken again, each by one try (it names the try it replaces).
    clock.now += WRONG_CODE_WINDOW + timedelta(minutes=1)
    results = await asyncio.gather(
        *(identity.redeem("AAA-AAA", WEB, visitor) for _ in range(MAX_WRONG_CODES + 3))
    )
    outcomes = [result.outcome for result in results]
    assert outcomes.count(LinkOutcome.WRONG_CODE) == MAX_WRONG_CODES


async def test_the_minutes_count_is_kept_two_minutes_and_then_let_go() -> None:
    now = [NOW.timestamp()]
    documents = MemoryDocumentStore(clock=lambda: now[0])
    identity, _, _ = service(documents=documents)
    await identity.redeem("AAA-AAA", WEB, "c-1")
    [count_key] = [key for key in documents._entries if key.startswith("identity/link-tries/")]
    now[0] += 2 * 60 - 1
    assert (await documents.read([count_key]))[count_key].data == {"count": 1}
    now[0] += 1
    assert await documents.read([count_key]) == {}


def store_on(clock: MovableClock) -> MemoryDocumentStore:
    """A memory store whose time to live follows the test's clock."""
    return MemoryDocumentStore(clock=lambda: clock.now.timestamp())


async def test_a_code_is_kept_for_its_lifetime_and_a_code_drawn_twice_is_drawn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = MovableClock()
    identity, documents, _ = service(clock, store_on(clock))
    drawn = iter(["AAA-AAA", "AAA-AAA", "BBB-BBB"])
    monkeypatch.setattr(identity_module, "new_code", lambda: next(drawn))
    assert await identity.issue_code("c-first") == "AAA-AAA"
    assert await identity.issue_code("c-second") == "BBB-BBB"  # AAA-AAA was taken
    codes = {key: (await documents.read([key]))[key].data["customerId"]
             for key in ("identity/codes/AAA-AAA", "identity/codes/BBB-BBB")}  # fmt: skip
    assert codes == {"identity/codes/AAA-AAA": "c-first", "identity/codes/BBB-BBB": "c-second"}
    clock.advance(CODE_LIFETIME - timedelta(seconds=1))
    assert await documents.read(["identity/codes/AAA-AAA"])
    clock.advance(timedelta(seconds=1))
    assert await documents.read(["identity/codes/AAA-AAA"]) == {}


async def test_a_wrong_code_leaves_the_customer_as_they_were() -> None:
    identity, _, _ = service()
    visitor = await identity.resolve(WEB)
    result = await identity.redeem("ZZZ-ZZZ", WEB, visitor)
    assert (result.outcome, result.customer_id) == (LinkOutcome.WRONG_CODE, visitor)


async def test_a_wrong_try_frees_its_slot_when_the_window_has_passed_to_the_second() -> None:
    clock = MovableClock()
    identity, documents, _ = service(clock, store_on(clock))
    visitor = await identity.resolve(WEB)
    for _ in range(MAX_WRONG_CODES):
        clock.advance(timedelta(minutes=1))  # each minute's count apart
        await identity.redeem("ZZZ-ZZZ", WEB, visitor)
    first_try = NOW + timedelta(minutes=1)
    clock.now = first_try + WRONG_CODE_WINDOW - timedelta(seconds=1)
    assert (await identity.redeem("ZZZ-ZZZ", WEB, visitor)).outcome is LinkOutcome.TOO_MANY_TRIES
    clock.now = first_try + WRONG_CODE_WINDOW
    assert (await identity.redeem("ZZZ-ZZZ", WEB, visitor)).outcome is LinkOutcome.WRONG_CODE

    # The slots themselves go once nothing can use them.
    def slots() -> list[str]:
        now = clock.now.timestamp()
        return [key for key, entry in documents._entries.items()
                if key.startswith("identity/attempts/") and entry.live(now)]  # fmt: skip

    assert len(slots()) == MAX_WRONG_CODES
    clock.advance(WRONG_CODE_WINDOW + timedelta(minutes=MAX_WRONG_CODES))
    assert slots() == []


async def test_what_linking_logs_is_what_an_operator_reads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", "customers.identity")
    identity, _, _ = service()
    teams = await identity.resolve(TEAMS)
    code = await identity.issue_code(teams)
    visitor = await identity.resolve(WEB)
    await identity.redeem(code, WEB, visitor)
    assert "customer accounts joined: 1 account(s) moved" in [
        r.getMessage() for r in caplog.records]  # fmt: skip


async def test_a_try_that_cannot_be_counted_is_refused_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Contended(MemoryDocumentStore):
        async def write(self, writes):  # type: ignore[no-untyped-def]
            if any(key.startswith("identity/link-tries/") for key in writes):
                raise EtagConflict("another instance")
            return await super().write(writes)

    identity, _, _ = service(documents=Contended())
    visitor = await identity.resolve(WEB)
    result = await identity.redeem("ZZZ-ZZZ", WEB, visitor)
    assert (result.outcome, result.customer_id) == (LinkOutcome.LINKING_PAUSED, visitor)
    assert [r.getMessage() for r in caplog.records] == [
        f"a link try could not be counted ({identity_module._COUNT_RETRIES} conflicts): refused"
    ]


async def test_unlinking_an_account_never_seen_writing_and_forgetting_one_never_seen_here() -> None:
    identity, documents, _ = service()
    customer = await identity.resolve(TEAMS)
    await store_context(documents, customer, channel_accounts=[record(TEAMS), record(WEB)])
    new = await identity.unlink(WEB, customer)  # WEB never wrote: no last message to drop
    assert re.fullmatch(r"c-[0-9a-f]{16}", new) and new != customer
    other_instance, _, _ = service(documents=documents)
    await other_instance.forget(customer)  # it never resolved these accounts itself
    assert await stored_context(documents, customer) is None


class BothReadTheCodeFirst(MemoryDocumentStore):
    """Two redeems of one code: neither reads it until both are about to (two instances
    handling the two messages at the same instant)."""

    def __init__(self) -> None:
        super().__init__()
        self.readers = 0
        self.both = asyncio.Event()

    async def read(self, keys):  # type: ignore[no-untyped-def]
        keys = list(keys)
        found = await super().read(keys)
        if len(keys) == 1 and keys[0].startswith("identity/codes/"):
            self.readers += 1
            if self.readers == 2:
                self.both.set()
            await asyncio.wait_for(self.both.wait(), 2)  # each has read it, unused
        return found


async def test_one_code_read_by_two_at_the_same_instant_joins_only_one() -> None:
    identity, _, _ = service(documents=BothReadTheCodeFirst())
    teams = await identity.resolve(TEAMS)
    code = await identity.issue_code(teams)
    other = ChannelAccount("webchat", "visitor-2")
    visitors = [await identity.resolve(WEB), await identity.resolve(other)]
    results = await asyncio.gather(
        identity.redeem(code, WEB, visitors[0]), identity.redeem(code, other, visitors[1])
    )
    assert sorted(r.outcome for r in results) == [LinkOutcome.LINKED, LinkOutcome.WRONG_CODE]
    for result, visitor in zip(results, visitors, strict=True):
        # The one who lost the race stays who they were; the other joins the code's customer.
        expected = teams if result.outcome is LinkOutcome.LINKED else visitor
        assert result.customer_id == expected


async def test_a_customer_created_while_a_code_is_redeemed_is_joined_not_overwritten() -> None:
    class HidesTheTargetOnce(MemoryDocumentStore):
        hidden: str | None = None

        async def read(self, keys):  # type: ignore[no-untyped-def]
            keys = list(keys)
            found = await super().read(keys)
            if keys == [self.hidden]:
                self.hidden = None  # as if another instance wrote it just after this read
                found.pop(keys[0], None)
            return found

    documents = HidesTheTargetOnce()
    identity, _, _ = service(documents=documents)
    teams = await identity.resolve(TEAMS)
    await store_context(documents, teams, last_intent="orderStatus", message_count=4)
    code = await identity.issue_code(teams)
    visitor = await identity.resolve(WEB)
    documents.hidden = customer_key(teams)
    result = await identity.redeem(code, WEB, visitor)
    assert result.outcome is LinkOutcome.LINKED
    joined = await stored_context(documents, teams)
    assert joined is not None and joined["lastIntent"] == "orderStatus"
    assert joined["messageCount"] == 4


async def test_the_minutes_limit_says_so_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    identity, _, clock = service()
    clock.now = NOW.replace(second=0)
    for n in range(MAX_LINK_TRIES_PER_MINUTE + 1):
        account = ChannelAccount("webchat", f"guesser-{n}")
        await identity.redeem("AAA-AAA", account, f"c-{n}")
    assert [r.getMessage() for r in caplog.records] == [
        f"link tries from all accounts passed {MAX_LINK_TRIES_PER_MINUTE} this minute: paused"
    ]
