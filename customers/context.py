"""What the bot remembers about a customer, on every channel: plain, versioned JSON."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from channels.reference import ConversationRef

# An order asked about within this long is offered again ("Is this about order 123456?").
RECENT_ORDER_WINDOW = timedelta(days=30)
# A task begun or an order looked up within this long is offered on another channel.
RESUME_WINDOW = timedelta(hours=24)
MAX_VERIFIED_ORDERS = 20
MAX_TROUBLESHOOTING = 20
MAX_HANDOFF_RECORDS = 50
# Longer than any event retention a company would set for its analytics (the default is 90).
MAX_ANALYTICS_DAYS = 400
MAX_SUBSCRIPTIONS = 20
MAX_UPDATES_OFFERED = 20


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ChannelAccountRecord(_Model):
    account: str  # the resolved account key, e.g. "msteams/aad/<tenant>/<aadObjectId>"
    channel: str
    user_id: str
    linked_at: datetime


class OpenTask(_Model):
    """A task the customer began and has not finished, e.g. asked for the order number."""

    what: str
    step: str
    channel: str
    at: datetime
    # What the task had gathered, to continue it elsewhere (never an address or a phone).
    details: dict[str, str | None] = Field(default_factory=dict)


class TroubleshootingRecord(_Model):
    """One walk through a troubleshooting guide: what was tried and how it ended."""

    device: str
    tried: list[str] = Field(default_factory=list)  # the guide's step ids, in order
    # fixed, repair, technician, person, abandoned, or one of the guide's own ends
    outcome: str
    at: datetime


class Preferences(_Model):
    # The language the bot speaks with the customer ("en", "es", "de", "fr"): chosen turn by
    # turn (nlu/language.py), it follows the customer across channels.
    language: str | None = None
    preferred_channel: str | None = None
    # The IANA zone the customer's channel last gave (Web Chat and Teams do); quiet hours and
    # times in updates follow it.
    time_zone: str | None = None


class Topic(StrEnum):
    ORDER = "order"  # the order's status changed
    APPOINTMENT = "appointment"  # a reminder the day before


class Subscription(_Model):
    """Updates the customer asked for (or accepted with a booking)."""

    topic: Topic
    subject: str  # the order number, or the appointment's reference
    since: datetime
    channel: str  # where the customer asked for it


class Notified(_Model):
    """The last update sent to the customer: what a reply to it is about."""

    topic: Topic
    subject: str
    at: datetime
    # The choices the update offered ("Move it", "Cancel it"), answered in the next turn,
    # and the same as the customer saw them, in their language.
    choices: list[str] = Field(default_factory=list)
    shown: list[str] = Field(default_factory=list)


class CustomerContext(_Model):
    schema_version: int = 1
    # The customer's name in analytics events: random, so the events say nothing of who;
    # deleted with the context ("forget me"), after which no event can be tied to them.
    analytics_id: str = Field(default_factory=lambda: secrets.token_hex(12))
    # The days (UTC) this customer's events were recorded on, so that "forget me" finds them.
    analytics_days: list[str] = Field(default_factory=list)
    channel_accounts: list[ChannelAccountRecord] = Field(default_factory=list)
    # Storage keys of the conversations held for this customer, so "forget me" finds them all.
    conversations: list[str] = Field(default_factory=list)
    # Last message from each channel account (Messenger allows free replies for 24 h after it).
    last_inbound_at: dict[str, datetime] = Field(default_factory=dict)
    last_intent: str | None = None
    last_order_number: str | None = None
    last_order_at: datetime | None = None
    last_order_channel: str | None = None
    open_task: OpenTask | None = None
    # The customer said no to continuing a task from another channel: not offered again.
    resume_declined_at: datetime | None = None
    handoff_requested_at: datetime | None = None
    preferences: Preferences = Field(default_factory=Preferences)
    consents: dict[str, datetime] = Field(default_factory=dict)
    # Messages the customer has sent the bot, on every channel and conversation.
    message_count: int = 0
    # Link codes issued to this customer (they expire in minutes; "forget me" deletes them).
    link_codes: list[str] = Field(default_factory=list)
    # Order numbers looked up that did not exist (or whose proof did not match), for the limit.
    order_misses: list[datetime] = Field(default_factory=list)
    # Orders this customer proved are theirs (ORDER_PROOF_REQUIRED), newest last.
    verified_orders: list[str] = Field(default_factory=list)
    # Troubleshooting walks, newest last (for the next agent, and the analytics).
    troubleshooting: list[TroubleshootingRecord] = Field(default_factory=list)
    # Storage keys of the hand-off cases and tickets kept about this customer (they hold
    # messages and contact details), so that "forget me" deletes them too.
    handoff_records: list[str] = Field(default_factory=list)
    # Where each channel account can be written to outside a turn (by account key),
    # refreshed on every activity; dropped when the channel says it never can again.
    reach: dict[str, ConversationRef] = Field(default_factory=dict)
    subscriptions: list[Subscription] = Field(default_factory=list)
    # Orders the customer was offered updates about (asked once per order).
    updates_offered: list[str] = Field(default_factory=list)
    # Updates delivered, by day (UTC), for the daily limit.
    updates_sent: dict[str, int] = Field(default_factory=dict)
    notified: Notified | None = None

    # --- reading ---------------------------------------------------------------

    def recent_order_number(self, now: datetime) -> str | None:
        recent = self.last_order_at and now - self.last_order_at <= RECENT_ORDER_WINDOW
        return self.last_order_number if recent else None

    def resumable_elsewhere(self, channel: str, now: datetime) -> OpenTask | None:
        """A task from another channel, open or with an order looked up in the last 24 h,
        that the customer has not already declined to continue."""
        task = self._resumable_elsewhere(channel, now)
        if task and self.resume_declined_at and task.at <= self.resume_declined_at:
            return None
        return task

    def _resumable_elsewhere(self, channel: str, now: datetime) -> OpenTask | None:
        task = self.open_task
        if task and task.channel != channel and now - task.at <= RESUME_WINDOW:
            return task
        if (
            self.last_order_number
            and self.last_order_at
            and self.last_order_channel not in (None, channel)
            and now - self.last_order_at <= RESUME_WINDOW
        ):
            return OpenTask(
                what="orderStatus", step="answered", channel=self.last_order_channel,
                at=self.last_order_at,
            )  # fmt: skip
        return None

    # --- changes (each is recorded and replayed on a concurrent write) -----------

    def count_message(self) -> None:
        self.message_count += 1

    def saw(self, account: ChannelAccountRecord, conversation_key: str, at: datetime) -> None:
        if all(known.account != account.account for known in self.channel_accounts):
            self.channel_accounts.append(account)
        if conversation_key not in self.conversations:
            self.conversations.append(conversation_key)
        self.last_inbound_at[account.account] = at

    def remember_order(self, order_number: str, at: datetime, channel: str) -> None:
        self.last_order_number, self.last_order_at = order_number, at
        self.last_order_channel = channel

    def record_order_miss(self, at: datetime, window: timedelta) -> None:
        self.order_misses = [*(t for t in self.order_misses if at - t < window), at]

    def order_misses_within(self, now: datetime, window: timedelta) -> int:
        return sum(1 for t in self.order_misses if now - t < window)

    def verify_order(self, order_number: str) -> None:
        kept = [n for n in self.verified_orders if n != order_number]
        self.verified_orders = [*kept, order_number][-MAX_VERIFIED_ORDERS:]

    def prefer_language(self, language: str) -> None:
        self.preferences.language = language

    def remember_intent(self, intent: str) -> None:
        self.last_intent = intent

    def begin_task(
        self,
        what: str,
        step: str,
        channel: str,
        at: datetime,
        details: dict[str, str | None] | None = None,
    ) -> None:
        self.open_task = OpenTask(
            what=what, step=step, channel=channel, at=at, details=details or {}
        )

    def end_task(self) -> None:
        self.open_task = None

    def decline_resume(self, at: datetime) -> None:
        self.open_task = None
        self.resume_declined_at = at

    def active_on(self, day: str) -> None:
        if day not in self.analytics_days:
            self.analytics_days = [*self.analytics_days[-(MAX_ANALYTICS_DAYS - 1) :], day]

    def request_handoff(self, at: datetime) -> None:
        self.handoff_requested_at = at

    def keep_handoff_record(self, key: str) -> None:
        self.handoff_records = [*self.handoff_records[-(MAX_HANDOFF_RECORDS - 1) :], key]

    def record_troubleshooting(self, record: TroubleshootingRecord) -> None:
        self.troubleshooting = [*self.troubleshooting[-(MAX_TROUBLESHOOTING - 1) :], record]

    def issued_link_code(self, code: str) -> None:
        self.link_codes = [*self.link_codes[-4:], code]

    def reachable_at(self, account: str, reference: ConversationRef) -> None:
        self.reach[account] = reference

    def unreachable_at(self, account: str) -> None:
        self.reach.pop(account, None)

    def set_time_zone(self, zone: str) -> None:
        self.preferences.time_zone = zone

    def subscription(self, topic: Topic, subject: str) -> Subscription | None:
        return next(
            (s for s in self.subscriptions if s.topic == topic and s.subject == subject), None
        )

    def subscribe(self, topic: Topic, subject: str, at: datetime, channel: str) -> None:
        if self.subscription(topic, subject) is None:
            added = Subscription(topic=topic, subject=subject, since=at, channel=channel)
            self.subscriptions = [*self.subscriptions[-(MAX_SUBSCRIPTIONS - 1) :], added]

    def unsubscribe(
        self, topic: Topic | None = None, subject: str | None = None
    ) -> list[Subscription]:
        """Stops the matching subscriptions (all when nothing is named) and returns them."""
        stopped = [s for s in self.subscriptions
                   if topic in (None, s.topic) and subject in (None, s.subject)]  # fmt: skip
        self.subscriptions = [s for s in self.subscriptions if s not in stopped]
        return stopped

    def offered_updates(self, order_number: str) -> None:
        kept = [n for n in self.updates_offered if n != order_number]
        self.updates_offered = [*kept[-(MAX_UPDATES_OFFERED - 1) :], order_number]

    def count_update(self, day: str) -> None:
        # Only today and yesterday matter for the limit.
        recent = {d: n for d, n in self.updates_sent.items() if d >= _day_before(day)}
        self.updates_sent = {**recent, day: recent.get(day, 0) + 1}

    # --- storage ---------------------------------------------------------------

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, data: dict | None) -> CustomerContext:
        return cls.model_validate(data or {})


# What a restricted channel may store: who the customer is, and where their task stands.
IDENTIFIER_AND_TASK_FIELDS = frozenset(
    {
        "schema_version",
        "analytics_id",
        "analytics_days",
        "channel_accounts",
        "conversations",
        "last_inbound_at",
        "last_intent",
        "open_task",
        "resume_declined_at",
        "handoff_requested_at",
        "message_count",
        "link_codes",
        # which guide steps were tried on a device: task state, nothing personal
        "troubleshooting",
        # keys of cases and tickets, so they can be deleted with the customer
        "handoff_records",
        # where to reach the customer (channel ids, never a name), and the updates they
        # asked for: a request the bot cannot honour without them
        "reach",
        "subscriptions",
        "updates_offered",
        "updates_sent",
        "notified",
    }
)


def _day_before(day: str) -> str:
    return (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()


def merge_contexts(newer: CustomerContext, older: CustomerContext) -> CustomerContext:
    """One customer from two: the newest value of each field, every channel account."""
    merged = newer.model_copy(deep=True)
    for name in CustomerContext.model_fields:
        if getattr(merged, name) in (None, [], {}, Preferences()):
            setattr(merged, name, getattr(older, name))
    if older.last_order_at and (
        not newer.last_order_at or older.last_order_at > newer.last_order_at
    ):
        merged.remember_order(
            older.last_order_number, older.last_order_at, older.last_order_channel
        )
    if older.open_task and (not newer.open_task or older.open_task.at > newer.open_task.at):
        merged.open_task = older.open_task
    for record in older.channel_accounts:
        if all(known.account != record.account for known in merged.channel_accounts):
            merged.channel_accounts.append(record)
    merged.conversations = list(dict.fromkeys([*newer.conversations, *older.conversations]))
    for account, at in older.last_inbound_at.items():
        if account not in merged.last_inbound_at or at > merged.last_inbound_at[account]:
            merged.last_inbound_at[account] = at
    merged.consents = {**older.consents, **newer.consents}
    # Joining accounts never clears a limit, and keeps what either proved.
    merged.order_misses = sorted({*newer.order_misses, *older.order_misses})
    merged.verified_orders = list(dict.fromkeys([*older.verified_orders, *newer.verified_orders]))
    merged.message_count = newer.message_count + older.message_count
    merged.reach = {**older.reach, **newer.reach}
    for subscription in older.subscriptions:
        if merged.subscription(subscription.topic, subscription.subject) is None:
            merged.subscriptions.append(subscription)
    merged.updates_offered = list(dict.fromkeys([*older.updates_offered, *newer.updates_offered]))
    merged.updates_sent = {
        day: max(newer.updates_sent.get(day, 0), older.updates_sent.get(day, 0))
        for day in {*newer.updates_sent, *older.updates_sent}
    }
    return merged
