import pytest

from services.orders import Order, OrderNotFound, find_order_number


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


@pytest.mark.parametrize(
    ("answer", "proven"),
    [
        ("alex.morgan@example.com", True),
        ("it's ALEX.MORGAN@EXAMPLE.COM.", True),
        ("my email is <alex.morgan@example.com>, thanks", True),
        ("98101", True),
        ("98 101", True),
        ("981-01", True),
        ("alex.morgan@example.co", False),
        ("sam@example.com", False),
        ("98102", False),
        ("9810", False),
        ("", False),
    ],
)
def test_an_order_is_proven_by_its_email_or_postcode(answer: str, proven: bool) -> None:
    order = Order("123456", "shipped", None, email="Alex.Morgan@example.com", postcode="98101")
    assert order.proven_by(answer) is proven


def test_an_order_without_proof_on_file_is_proven_by_nothing() -> None:
    order = Order("123456", "shipped", None)
    assert not order.proven_by("")
    assert not order.proven_by("alex.morgan@example.com")


@pytest.mark.parametrize("answer", ["SW1A 1AA", "sw1a1aa", "Sw1a-1aa", " sw1a 1aa "])
def test_a_postcode_with_letters_and_a_space_is_proven_however_it_is_written(answer: str) -> None:
    order = Order("123456", "shipped", None, postcode="SW1A 1AA")
    assert order.proven_by(answer)
    assert not order.proven_by("SW1A 1AB")


def test_an_order_not_found_names_the_number() -> None:
    missing = OrderNotFound("999999")
    assert (str(missing), missing.order_number) == ("no order 999999", "999999")
