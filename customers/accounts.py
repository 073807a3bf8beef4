"""Who is writing: a channel account, and what it proves about the customer.

Plain Python. Ids a channel vouches for are stable keys; ids a browser picks
prove nothing and stay with an anonymous customer of their own.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

DIRECT_LINE_CHANNELS = ("directline", "webchat")
# Direct Line ids the bot's token endpoint issued start with this; only they were bound by a server.
SERVER_ISSUED_PREFIX = "dl_"
_SIGNATURE_CHARS = 32


@dataclass(frozen=True)
class ChannelAccount:
    channel: str
    user_id: str
    aad_object_id: str | None = None
    tenant_id: str | None = None

    @property
    def key(self) -> str:
        """A stable key for the account: Teams' Entra object id outlives per-bot user ids."""
        if self.channel == "msteams" and self.aad_object_id:
            return f"msteams/aad/{self.tenant_id or '-'}/{self.aad_object_id}"
        return f"{self.channel}/{self.user_id}"


def sign_customer_id(customer_id: str, signing_key: str) -> str:
    """The Direct Line user id for a signed-in customer: `dl_<customer id>.<signature>`."""
    return f"{SERVER_ISSUED_PREFIX}{customer_id}.{_signature(customer_id, signing_key)}"


def signed_customer_id(account: ChannelAccount, signing_key: str | None) -> str | None:
    """The customer id a Direct Line user id carries, when the bot's signature checks out."""
    if not signing_key or account.channel not in DIRECT_LINE_CHANNELS:
        return None
    if not account.user_id.startswith(SERVER_ISSUED_PREFIX):
        return None
    customer_id, _, signature = account.user_id[len(SERVER_ISSUED_PREFIX) :].rpartition(".")
    if not customer_id or not hmac.compare_digest(signature, _signature(customer_id, signing_key)):
        return None
    return customer_id


def _signature(customer_id: str, signing_key: str) -> str:
    digest = hmac.new(signing_key.encode(), customer_id.encode(), hashlib.sha256).hexdigest()
    return digest[:_SIGNATURE_CHARS]


def site_signed_customer_id(
    customer_id: str, expires: int, signature: str, site_key: str | None, now: float
) -> str | None:
    """A customer id a company's site vouches for: HMAC(SITE_SIGNING_KEY, "<id>.<expires>")
    in hex, unexpired (`expires` in Unix seconds)."""
    if not site_key or not customer_id or expires <= now:
        return None
    expected = hmac.new(site_key.encode(), f"{customer_id}.{expires}".encode(), hashlib.sha256)
    return customer_id if hmac.compare_digest(signature, expected.hexdigest()) else None
