import pytest

from services.orders import find_order_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123456", "123456"),
        ("#123456", "123456"),
        ("where is order #123-456?", "123456"),
        ("it's 123 456 789", "123456789"),
        ("order 1234-5678-9012 please", "123456789012"),
        ("# 654321", "654321"),
        ("I bought 3 things, order 445566", "445566"),
    ],
)
def test_order_numbers_are_found_as_customers_write_them(text: str, expected: str) -> None:
    assert find_order_number(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "12345", "1234567890123", "abc123456", "123456abc", "where is my order?", "12--3456"],
)
def test_too_short_too_long_or_glued_to_words_is_not_an_order_number(text: str) -> None:
    assert find_order_number(text) is None
