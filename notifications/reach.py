"""Where an update may go now: each channel's rules for writing to a customer first.

- Teams: only a personal chat with the app installed (removing the app, or a 403 from
  Teams, drops it); never a group chat or a channel.
- Messenger: free for 24 hours after the customer's last message; after that only with
  a message tag that fits (POST_PURCHASE_UPDATE for an order, CONFIRMED_EVENT_UPDATE for
  a booked appointment), never a promotion.
- Web Chat (and any other channel): only while the conversation is open, taken as the
  customer having been active in it within the last half hour; otherwise the next channel.
The channel the customer used most recently comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from channels.reference import ConversationRef
from customers.context import CustomerContext, Topic

MESSENGER_WINDOW = timedelta(hours=24)
# A web page's conversation counts as open this long after the customer's last activity
# in it (a message, or the page announcing the visitor).
OPEN_CONVERSATION = timedelta(minutes=30)
MESSENGER_TAGS = {Topic.ORDER: "POST_PURCHASE_UPDATE", Topic.APPOINTMENT: "CONFIRMED_EVENT_UPDATE"}


@dataclass(frozen=True)
class Destination:
    account: str  # the channel account's key in the customer context
    reference: ConversationRef
    # What the channel needs beside the message (Messenger's messaging type and tag).
    channel_data: dict[str, Any] = field(default_factory=dict)


def destinations(context: CustomerContext, topic: Topic, now: datetime) -> list[Destination]:
    """The conversations an update about `topic` may be written to now, best first."""
    found = []
    for account, reference in context.reach.items():
        last = context.last_inbound_at.get(account)
        if last is None:
            continue
        channel = reference.channel_id
        if channel == "msteams":
            if reference.conversation_type not in (None, "personal"):
                continue
            found.append((last, Destination(account, reference)))
        elif channel == "facebook":
            if now - last <= MESSENGER_WINDOW:
                data = {"messaging_type": "UPDATE"}
            else:
                data = {"messaging_type": "MESSAGE_TAG", "tag": MESSENGER_TAGS[topic]}
            found.append((last, Destination(account, reference, data)))
        elif now - last <= OPEN_CONVERSATION:
            found.append((last, Destination(account, reference)))
    return [destination for _, destination in sorted(found, key=lambda f: f[0], reverse=True)]
