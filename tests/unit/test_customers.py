"""Identity pieces: link codes, signed Direct Line ids, merging, privacy, the directory."""

from datetime import UTC, datetime, timedelta

import pytest

from customers.accounts import ChannelAccount, sign_customer_id, signed_customer_id
from customers.context import ChannelAccountRecord, CustomerContext, merge_contexts
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
