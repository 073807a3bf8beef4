"""Identity pieces: link codes, signed Direct Line ids, merging, privacy, the directory."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from channels.reference import ConversationRef
from customers.accounts import (
    ChannelAccount,
    sign_customer_id,
    signed_customer_id,
    site_signed_customer_id,
)
from customers.context import (
    MAX_VERIFIED_ORDERS,
    ChannelAccountRecord,
    CustomerContext,
    OpenTask,
    Preferences,
    Subscription,
    Topic,
    merge_contexts,
)
from customers.directory import DemoCustomerDirectory
from customers.identity import IdentityService, LinkOutcome, LinkResult
from customers.link_codes import ALPHABET, code_in_link_command, is_unlink_command, new_code
from customers.privacy import PrivacyPolicy
from services.orders import find_order_number
from state.documents import EtagConflict, StorageUnavailable
from state.memory_store import MemoryDocumentStore

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_link_codes_are_unambiguous_and_never_an_order_number() -> None:
    for _ in range(2000):
        code = new_code()
        assert len(code) == 7 and code[3] == "-"
        assert set(code.replace("-", "")) <= set(ALPHABET)
        assert not code.replace("-", "").isdigit()
        assert find_order_number(f"link {code}") is None
    assert not set("01OIL") & set(ALPHABET)


@pytest.mark.parametrize(
    ("text", "code"),
    [("link ABC-DEF", "ABC-DEF"), ("Link abc def", "ABC-DEF"), (" link abcdef. ", "ABC-DEF"),
     ("link another channel", None), ("please link ABC-DEF now", None), ("ABC-DEF", None)],
)  # fmt: skip
def test_the_link_command(text: str, code: str | None) -> None:
    assert code_in_link_command(text) == code


def test_the_unlink_command() -> None:
    assert is_unlink_command("unlink") and is_unlink_command("Unlink this channel")
    assert not is_unlink_command("unlink everything everywhere")


def test_a_signed_direct_line_id_carries_the_customer_and_nothing_else_does() -> None:
    user_id = sign_customer_id("crm-1001", "key")
    assert user_id.startswith("dl_")
    assert signed_customer_id(ChannelAccount("webchat", user_id), "key") == "crm-1001"
    assert signed_customer_id(ChannelAccount("directline", user_id), "key") == "crm-1001"
    assert signed_customer_id(ChannelAccount("webchat", user_id), "other key") is None
    assert signed_customer_id(ChannelAccount("webchat", user_id), None) is None
    tampered = user_id.replace("crm-1001", "crm-1002")
    assert signed_customer_id(ChannelAccount("webchat", tampered), "key") is None
    assert signed_customer_id(ChannelAccount("msteams", user_id), "key") is None


def test_teams_accounts_are_keyed_by_their_entra_object_id() -> None:
    one = ChannelAccount("msteams", "29:a", "aad-1", "tenant")
    other_conversation = ChannelAccount("msteams", "29:b", "aad-1", "tenant")
    assert one.key == other_conversation.key == "msteams/aad/tenant/aad-1"
    assert ChannelAccount("webchat", "visitor").key == "webchat/visitor"


def _account(name: str) -> ChannelAccountRecord:
    return ChannelAccountRecord(account=name, channel=name, user_id=name, linked_at=NOW)


def test_merging_keeps_the_newest_value_per_field_and_every_account() -> None:
    older = CustomerContext(channel_accounts=[_account("webchat")], last_intent="help",
                            message_count=3, last_inbound_at={"webchat": NOW})  # fmt: skip
    older.remember_order("123456", NOW, "webchat")
    newer = CustomerContext(channel_accounts=[_account("msteams")], last_intent="orderStatus",
                            message_count=2,
                            last_inbound_at={"msteams": NOW + timedelta(hours=1)})  # fmt: skip
    merged = merge_contexts(newer, older)
    assert [a.account for a in merged.channel_accounts] == ["msteams", "webchat"]
    assert merged.last_intent == "orderStatus"
    assert merged.last_order_number == "123456"  # only the older one had it
    assert merged.message_count == 5
    assert set(merged.last_inbound_at) == {"webchat", "msteams"}


def _reach(channel: str) -> ConversationRef:
    return ConversationRef(channel_id=channel, service_url="https://x", conversation_id=channel)


def test_merging_two_whole_customers_keeps_everything_either_knew() -> None:
    hour = timedelta(hours=1)
    older = CustomerContext(
        channel_accounts=[_account("webchat")], conversations=["c/web", "c/both"],
        last_inbound_at={"webchat": NOW, "msteams": NOW + 3 * hour}, message_count=3,
        consents={"updates": NOW, "marketing": NOW}, order_misses=[NOW, NOW + hour],
        verified_orders=["111111", "222222"], reach={"webchat": _reach("webchat")},
        subscriptions=[Subscription(topic=Topic.ORDER, subject="111111", since=NOW,
                                    channel="webchat")],
        updates_offered=["111111", "222222"],
        updates_sent={"2026-11-23": 2, "2026-11-24": 1},
        open_task=OpenTask(what="booking", step="when", channel="webchat", at=NOW + 2 * hour),
    )  # fmt: skip
    older.remember_order("111111", NOW + 2 * hour, "webchat")
    newer = CustomerContext(
        channel_accounts=[_account("msteams"), _account("webchat")],
        conversations=["c/teams", "c/both"], last_inbound_at={"msteams": NOW + hour},
        message_count=2, consents={"updates": NOW + hour},
        order_misses=[NOW + hour, NOW + 2 * hour], verified_orders=["222222", "333333"],
        reach={"msteams": _reach("msteams"), "webchat": _reach("msteams")},
        subscriptions=[Subscription(topic=Topic.ORDER, subject="111111", since=NOW + hour,
                                    channel="msteams"),
                       Subscription(topic=Topic.APPOINTMENT, subject="A-1", since=NOW,
                                    channel="msteams")],
        updates_offered=["333333", "111111"], updates_sent={"2026-11-24": 3},
        open_task=OpenTask(what="orderStatus", step="ask", channel="msteams", at=NOW),
    )  # fmt: skip
    newer.remember_order("222222", NOW + hour, "msteams")
    before = newer.model_copy(deep=True)
    merged = merge_contexts(newer, older)
    assert newer == before  # the newer customer is not changed in place
    assert [a.account for a in merged.channel_accounts] == ["msteams", "webchat"]
    assert merged.conversations == ["c/teams", "c/both", "c/web"]
    assert merged.last_inbound_at == {"msteams": NOW + 3 * hour, "webchat": NOW}
    assert merged.message_count == 5
    assert merged.consents == {"updates": NOW + hour, "marketing": NOW}
    assert merged.order_misses == [NOW, NOW + hour, NOW + 2 * hour]
    assert merged.verified_orders == ["111111", "222222", "333333"]
    assert merged.reach == {"webchat": _reach("msteams"), "msteams": _reach("msteams")}
    assert [(s.topic, s.subject, s.channel) for s in merged.subscriptions] == [
        (Topic.ORDER, "111111", "msteams"), (Topic.APPOINTMENT, "A-1", "msteams"),
    ]  # fmt: skip
    assert merged.updates_offered == ["111111", "222222", "333333"]
    assert merged.updates_sent == {"2026-11-23": 2, "2026-11-24": 3}
    # The later order and the later task win, wherever they were.
    assert (merged.last_order_number, merged.last_order_at, merged.last_order_channel) == (
        "111111", NOW + 2 * hour, "webchat",
    )  # fmt: skip
    assert merged.open_task is not None and merged.open_task.what == "booking"


def test_merging_keeps_the_newer_order_and_task_when_the_older_ones_are_earlier() -> None:
    older = CustomerContext(
        open_task=OpenTask(what="booking", step="when", channel="webchat", at=NOW)
    )
    older.remember_order("111111", NOW, "webchat")
    newer = CustomerContext(
        open_task=OpenTask(what="orderStatus", step="ask", channel="msteams", at=NOW)
    )
    newer.remember_order("222222", NOW, "msteams")
    merged = merge_contexts(newer, older)
    assert (merged.last_order_number, merged.last_order_channel) == ("222222", "msteams")
    assert merged.open_task is not None and merged.open_task.what == "orderStatus"
    # An older customer with nothing of either keeps the newer's.
    assert merge_contexts(newer, CustomerContext()).last_order_number == "222222"


def test_updates_sent_are_counted_per_day_and_only_today_and_yesterday_are_kept() -> None:
    context = CustomerContext(updates_sent={"2026-11-21": 4, "2026-11-22": 1})
    context.count_update("2026-11-23")
    context.count_update("2026-11-23")
    assert context.updates_sent == {"2026-11-22": 1, "2026-11-23": 2}
    context.count_update("2026-11-24")
    assert context.updates_sent == {"2026-11-23": 2, "2026-11-24": 1}


def test_a_restricted_channel_keeps_only_identifiers_and_task_state() -> None:
    policy = PrivacyPolicy(frozenset({"facebook"}))
    before = CustomerContext()
    after = before.model_copy(deep=True)
    after.remember_order("123456", NOW, "facebook")
    after.remember_intent("orderStatus")
    after.begin_task("orderStatus", "askOrderNumber", "facebook", NOW)
    policy.keep_allowed("facebook", before, after)
    assert after.last_order_number is None and after.last_order_at is None
    assert after.last_order_channel is None
    assert after.last_intent == "orderStatus" and after.open_task is not None
    unrestricted = before.model_copy(deep=True)
    unrestricted.remember_order("123456", NOW, "webchat")
    policy.keep_allowed("webchat", before, unrestricted)
    assert unrestricted.last_order_number == "123456"
    # What the customer told the bot elsewhere stays as it was, not emptied.
    known = CustomerContext()
    known.remember_order("654321", NOW, "webchat")
    changed = known.model_copy(deep=True)
    changed.remember_order("123456", NOW, "facebook")
    policy.keep_allowed("facebook", known, changed)
    assert (changed.last_order_number, changed.last_order_channel) == ("654321", "webchat")


async def test_the_demo_directory_finds_by_email_phone_or_crm_id() -> None:
    directory = DemoCustomerDirectory()
    by_email = await directory.find(email="ALEX.MORGAN@example.com")
    assert by_email is not None and by_email.customer_id == "crm-1001"
    assert "123456" in by_email.order_numbers
    assert (await directory.find(phone="(206) 555-0102")) is None  # no country code: no match
    assert (await directory.find(phone="+1 (206) 555-0102")).crm_id == "1002"
    assert (await directory.find(crm_id="1007")).name == "Tom Becker"
    assert await directory.find(email="nobody@example.com") is None


async def test_the_identity_service_remembers_only_what_it_read_or_wrote_itself() -> None:
    from customers.identity import IdentityService
    from state.memory_store import MemoryDocumentStore

    documents = MemoryDocumentStore()
    here, elsewhere = (
        IdentityService(documents, DemoCustomerDirectory(), "key", lambda: NOW) for _ in range(2)
    )
    web = ChannelAccount("webchat", "visitor-1")
    assert here.remembered(web) is None
    customer_id = await here.resolve(web)
    assert here.remembered(web) == customer_id
    # Another instance moving the account is not seen here until storage is read again:
    # the bot confirms a remembered customer against their context.
    moved_to = await elsewhere.unlink(web, customer_id)
    assert here.remembered(web) == customer_id
    assert await here.resolve(web) == moved_to and here.remembered(web) == moved_to


class _ContendedStore(MemoryDocumentStore):
    """A store where every write of `prefix` loses to another writer, or fails outright."""

    def __init__(self, prefix: str, error: type[Exception]) -> None:
        super().__init__()
        self._prefix = prefix
        self._error = error

    async def write(self, writes):  # type: ignore[no-untyped-def]
        for key in writes:
            if key.startswith(self._prefix):
                raise self._error(key)
        return await super().write(writes)


@pytest.mark.parametrize(
    ("prefix", "error", "outcome"),
    [
        ("identity/attempts/", EtagConflict, LinkOutcome.TOO_MANY_TRIES),
        ("identity/link-tries/", EtagConflict, LinkOutcome.LINKING_PAUSED),
        ("identity/attempts/", StorageUnavailable, None),
    ],
)
async def test_a_link_try_that_cannot_be_recorded_is_refused(
    prefix: str, error: type[Exception], outcome: LinkOutcome | None
) -> None:
    store = _ContendedStore(prefix, error)
    identity = IdentityService(store, DemoCustomerDirectory(), None, lambda: NOW)
    code = await identity.issue_code("crm-1001")
    guesser = ChannelAccount("webchat", "guesser")
    if outcome is None:
        with pytest.raises(StorageUnavailable):  # the turn apologises; nothing is linked
            await identity.redeem(code, guesser, "c-guesser")
    else:
        result = await identity.redeem(code, guesser, "c-guesser")
        assert result == LinkResult(outcome, "c-guesser")
    assert await identity.resolve(guesser) != "crm-1001"


def test_a_site_signed_customer_id_is_trusted_only_signed_with_its_key_and_unexpired() -> None:
    def signed(customer_id: str, expires: int, key: str = "site-key") -> str:
        message = f"{customer_id}.{expires}".encode()
        return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()

    now = 1_800_000_000.0
    good = signed("crm-1", 1_800_000_060)
    assert site_signed_customer_id("crm-1", 1_800_000_060, good, "site-key", now) == "crm-1"
    assert site_signed_customer_id("crm-2", 1_800_000_060, good, "site-key", now) is None
    assert site_signed_customer_id("crm-1", 1_800_000_061, good, "site-key", now) is None
    assert site_signed_customer_id("crm-1", 1_800_000_060, good, "other-key", now) is None
    assert site_signed_customer_id("crm-1", 1_800_000_060, good, None, now) is None
    assert site_signed_customer_id("", 1_800_000_060, signed("", 1_800_000_060), "site-key",
                                   now) is None  # fmt: skip
    # Expired at the second it names.
    at_expiry = signed("crm-1", int(now))
    assert site_signed_customer_id("crm-1", int(now), at_expiry, "site-key", now) is None


def test_verified_orders_keep_the_latest_few_once_each() -> None:
    context = CustomerContext()
    for number in ("1", "2", "1", *(str(n) for n in range(3, 3 + MAX_VERIFIED_ORDERS))):
        context.verify_order(number)
    assert len(context.verified_orders) == MAX_VERIFIED_ORDERS
    assert context.verified_orders[-1] == str(2 + MAX_VERIFIED_ORDERS)
    assert len(set(context.verified_orders)) == MAX_VERIFIED_ORDERS


def test_unsubscribing_stops_what_is_named_or_everything() -> None:
    context = CustomerContext()
    context.subscribe(Topic.ORDER, "111111", NOW, "webchat")
    context.subscribe(Topic.ORDER, "111111", NOW, "msteams")  # already: not twice
    context.subscribe(Topic.ORDER, "222222", NOW, "webchat")
    context.subscribe(Topic.APPOINTMENT, "A-1", NOW, "webchat")
    assert len(context.subscriptions) == 3
    stopped = context.unsubscribe(Topic.ORDER, "222222")
    assert [s.subject for s in stopped] == ["222222"]
    assert [s.subject for s in context.unsubscribe(Topic.APPOINTMENT)] == ["A-1"]
    assert [s.subject for s in context.subscriptions] == ["111111"]
    assert [s.subject for s in context.unsubscribe()] == ["111111"]
    assert context.subscriptions == []


def test_declining_to_resume_closes_the_task_and_remembers_when() -> None:
    context = CustomerContext()
    context.begin_task("booking", "when", "webchat", NOW)
    context.decline_resume(NOW + timedelta(minutes=1))
    assert context.open_task is None
    assert context.resume_declined_at == NOW + timedelta(minutes=1)


def test_only_the_last_five_link_codes_are_kept() -> None:
    context = CustomerContext()
    for n in range(7):
        context.issued_link_code(f"AAA-AA{n}")
    assert context.link_codes == [f"AAA-AA{n}" for n in range(2, 7)]


def test_merging_fills_what_only_the_older_knew_and_adds_its_other_subscriptions() -> None:
    older = CustomerContext(
        last_intent="help", preferences=Preferences(language="es", time_zone="Europe/Madrid"),
        subscriptions=[Subscription(topic=Topic.ORDER, subject="111111", since=NOW,
                                    channel="webchat")],
        updates_sent={"2026-11-23": 2},
    )  # fmt: skip
    newer = CustomerContext(
        subscriptions=[Subscription(topic=Topic.APPOINTMENT, subject="A-1", since=NOW,
                                    channel="msteams")],
        updates_sent={"2026-11-24": 1},
    )  # fmt: skip
    merged = merge_contexts(newer, older)
    assert merged.last_intent == "help"
    assert merged.preferences == Preferences(language="es", time_zone="Europe/Madrid")
    assert [(s.topic, s.subject) for s in merged.subscriptions] == [
        (Topic.APPOINTMENT, "A-1"), (Topic.ORDER, "111111")]  # fmt: skip
    assert merged.updates_sent == {"2026-11-23": 2, "2026-11-24": 1}


def test_order_misses_are_kept_for_their_window_and_no_longer() -> None:
    window = timedelta(hours=1)
    context = CustomerContext()
    context.record_order_miss(NOW, window)
    context.record_order_miss(NOW + window - timedelta(seconds=1), window)
    assert context.order_misses_within(NOW + window - timedelta(seconds=1), window) == 2
    assert context.order_misses_within(NOW + window, window) == 1
    context.record_order_miss(NOW + window, window)  # the first has aged out: let go
    assert context.order_misses == [NOW + window - timedelta(seconds=1), NOW + window]
    context.set_time_zone("Asia/Tokyo")
    assert context.preferences.time_zone == "Asia/Tokyo"


def test_a_channel_already_dropped_can_be_dropped_again() -> None:
    # Two instances may both hear a 403 from the same channel.
    context = CustomerContext(reach={"webchat": _reach("webchat")})
    context.unreachable_at("webchat")
    context.unreachable_at("webchat")
    assert context.reach == {}
