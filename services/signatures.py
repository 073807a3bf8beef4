"""Webhook signatures as GitHub and Meta make them: `X-Hub-Signature-256: sha256=<hex>`,
the HMAC-SHA256 of the raw body with a key both sides know."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"


def signature(body: bytes, key: str) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def signed_by(body: bytes, header: str | None, key: str) -> bool:
    """The header is the body's signature with `key` (compared in constant time)."""
    if not header or len(header) > 100:
        return False
    return hmac.compare_digest(header.encode(), signature(body, key).encode())
