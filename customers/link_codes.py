"""Link codes: how a customer proves two channel accounts are theirs.

Six characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as
XXX-XXX and never all digits, so a code is never read as an order number.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LIFETIME = timedelta(minutes=10)
# Wrong codes allowed per channel account per hour; the next one is refused even if right.
MAX_WRONG_CODES = 5
WRONG_CODE_WINDOW = timedelta(hours=1)
# Link tries from all accounts together in one minute. New web chat accounts cost nothing, so
# the per-account limit alone does not bound guessing; with this, a live code faces at most
# 10 x 60 = 600 guesses in its 10 minutes: odds of 600 in 887 million (31^6) to be found.
MAX_LINK_TRIES_PER_MINUTE = 60

_LINK = re.compile(r"\s*link\s+([A-Za-z0-9]{3})\s*-?\s*([A-Za-z0-9]{3})\s*[.!]?\s*", re.IGNORECASE)
_UNLINK = re.compile(r"\s*unlink(?: (?:this|this channel|this account))?\s*[.!]?\s*", re.I)


def new_code() -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(6))
        if not code.isdigit():
            return f"{code[:3]}-{code[3:]}"


def code_in_link_command(text: str) -> str | None:
    """The code in "link ABC-DEF" (any case, with or without the dash), normalised."""
    match = _LINK.fullmatch(text or "")
    if not match:
        return None
    return f"{match.group(1)}-{match.group(2)}".upper()


def is_unlink_command(text: str) -> bool:
    return bool(_UNLINK.fullmatch(text or ""))
