"""Webhook signatures (X-Hub-Signature-256), checked against GitHub's published example."""

from __future__ import annotations

from services.signatures import signature, signed_by

# From GitHub's "Validating webhook deliveries": this secret and body give this header.
SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
HEADER = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_the_signature_is_githubs_for_its_example() -> None:
    assert signature(BODY, SECRET) == HEADER
    assert signed_by(BODY, HEADER, SECRET)


def test_anything_else_is_not_signed() -> None:
    assert not signed_by(BODY + b" ", HEADER, SECRET)  # the body changed
    assert not signed_by(BODY, HEADER, SECRET + "!")  # another key
    assert not signed_by(BODY, HEADER.removeprefix("sha256="), SECRET)
    assert not signed_by(BODY, HEADER.upper(), SECRET)
    assert not signed_by(BODY, None, SECRET)
    assert not signed_by(BODY, "", SECRET)
    assert not signed_by(BODY, HEADER + "0" * 100, SECRET)  # oversized: not even compared
