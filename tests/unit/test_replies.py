from datetime import UTC, datetime, timedelta, timezone

import pytest

from channels.replies import describe_eta, order_status
from services.orders import Order

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("eta", "words"),
    [
        (datetime(2026, 11, 24, 18, 0, tzinfo=UTC), "expected by 6 PM today"),
        (datetime(2026, 11, 25, 10, 30, tzinfo=UTC), "expected by 10:30 AM tomorrow"),
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "expected by 12 PM on Friday"),
        (datetime(2026, 12, 8, 9, 0, tzinfo=UTC), "expected by 9 AM on Tuesday 8 December"),
        (datetime(2027, 1, 5, 9, 0, tzinfo=UTC), "expected by 9 AM on Tuesday 5 January 2027"),
        (datetime(2026, 11, 23, 16, 0, tzinfo=UTC), "was expected by 4 PM yesterday"),
    ],
)
def test_eta_in_words(eta: datetime, words: str) -> None:
    assert describe_eta(eta, NOW) == words


def test_eta_is_told_in_the_customers_time_zone() -> None:
    # 23:00 UTC is 8 AM tomorrow in Tokyo.
    tokyo_now = NOW.astimezone(timezone(timedelta(hours=9)))
    eta = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert describe_eta(eta, tokyo_now) == "expected by 8 AM tomorrow"


def test_status_is_given_exactly_as_the_order_system_words_it() -> None:
    order = Order("123456", "out for delivery", datetime(2026, 11, 24, 18, 0, tzinfo=UTC))
    assert order_status(order, NOW).text == (
        "Your order 123456 is out for delivery and expected by 6 PM today."
    )
    assert order_status(Order("456789", "delivered", None), NOW).text == (
        "Your order 456789 is delivered."
    )
