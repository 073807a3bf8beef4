"""The hand-off core without a bot: business hours, the queue's estimate, the card."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.reference import ConversationRef
from config import ConfigError
from handoff.cases import Case, CaseState, Reason, TranscriptLine
from handoff.hours import BusinessHours
from handoff.service import _estimate
from handoff.teams_desk import card_message
from tests.conftest import make_settings

# 2026-11-24 is a Tuesday.
TUESDAY_0830_BERLIN = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
TUESDAY_0900_BERLIN = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
TUESDAY_1730_BERLIN = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)


def test_hours_are_read_in_the_teams_time_zone() -> None:
    hours = BusinessHours.parse("mon-fri 09:00-17:30; sat 10:00-14:00", "Europe/Berlin")
    assert not hours.is_open(TUESDAY_0830_BERLIN)
    assert hours.is_open(TUESDAY_0900_BERLIN)
    assert not hours.is_open(TUESDAY_1730_BERLIN)  # closes at 17:30: not open at 17:30
    assert not hours.is_open(datetime(2026, 11, 29, 12, 0, tzinfo=UTC))  # Sunday
    assert str(hours) == (
        "Mon 09:00-17:30; Tue 09:00-17:30; Wed 09:00-17:30; Thu 09:00-17:30; "
        "Fri 09:00-17:30; Sat 10:00-14:00 (Europe/Berlin)"
    )


def test_hours_are_told_as_they_will_be_kept() -> None:
    # Outside hours the customer is told the hours as read: "they're here Mon 09:00-17:30; ..."
    hours = BusinessHours.parse("mon-fri 09:00-17:30; sat 10:00-14:00", "Europe/Berlin")
    assert str(hours) == (
        "Mon 09:00-17:30; Tue 09:00-17:30; Wed 09:00-17:30; Thu 09:00-17:30; "
        "Fri 09:00-17:30; Sat 10:00-14:00 (Europe/Berlin)"
    )
    split = BusinessHours.parse("mon 09:00-12:00; mon 13:00-24:00", "UTC")
    assert str(split) == "Mon 09:00-12:00, 13:00-24:00 (UTC)"


def test_a_holiday_is_closed_all_day_and_24_00_means_midnight() -> None:
    hours = BusinessHours.parse("mon-sun 00:00-24:00", "UTC", "2026-11-24")
    assert not hours.is_open(TUESDAY_0900_BERLIN)
    assert hours.is_open(datetime(2026, 11, 25, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"HANDOFF_HOURS": "weekdays 9-5"}, "HANDOFF_HOURS"),
        ({"HANDOFF_HOURS": "fri-mon 09:00-17:00"}, "runs backwards"),
        ({"HANDOFF_HOURS": "mon 17:00-09:00"}, "closes before it opens"),
        ({"HANDOFF_HOURS": "mon 09:00-25:00"}, "not a time of day"),
        ({"HANDOFF_HOURS": ""}, "no opening hours"),
        ({"HANDOFF_TIME_ZONE": "Mars/Olympus"}, "not a time zone"),
        ({"HANDOFF_HOLIDAYS": "Christmas"}, "holidays must be dates"),
        ({"TICKET_WEBHOOK_URL": "https://tickets.example.com"}, "TICKET_WEBHOOK_SIGNING_KEY"),
        ({"HANDOFF_DESK": "email"}, "HANDOFF_DESK"),
        ({"HANDOFF_MAX_WAIT_SECONDS": "5"}, "HANDOFF_MAX_WAIT_SECONDS"),
    ],
)
def test_bad_handoff_settings_stop_the_start_naming_what_to_fix(
    values: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        make_settings(**values)


def test_the_wait_is_estimated_from_recent_waits() -> None:
    assert _estimate([], 1) == 3  # nothing to go by: three minutes a place
    assert _estimate([60, 120, 600], 2) == 4  # the median wait, for each place ahead
    assert _estimate([5], 1) == 1  # never "0 minutes"


def _case(**changes: object) -> Case:
    case = Case(
        id="c1", customer_id="cust", customer_name="Sam", reason=Reason.FAILED_TRIES,
        desk="teams", requested_at=TUESDAY_0900_BERLIN,
        customer=ConversationRef(channel_id="facebook", service_url="http://x",
                                 conversation_id="conv"),
        facts=[("Channel", "Messenger"), ("Last order", "123456: shipped")],
        transcript=[TranscriptLine(sender="customer", text="hello *there*",
                                   at=TUESDAY_0900_BERLIN)],
    )  # fmt: skip
    return case.model_copy(update=changes)


def test_the_card_shows_who_why_what_is_known_and_one_action_by_state() -> None:
    content = card_message(_case(), position=2)["attachments"][0]["content"]
    body = str(content["body"])
    assert "Sam on Messenger" in body and "number 2 in the queue" in body
    assert "The bot could not help after several tries" in body
    assert "123456: shipped" in body and "hello *there*" in body
    assert [a["title"] for a in content["actions"]] == ["Take it"]
    taken = _case(state=CaseState.WITH_AGENT)
    assert [a["title"] for a in card_message(taken)["attachments"][0]["content"]["actions"]] == [
        "End"
    ]
    assert (
        card_message(_case(state=CaseState.WITHDRAWN))["attachments"][0]["content"]["actions"] == []
    )


def test_a_case_is_stored_as_camel_case_json_and_read_back_whole() -> None:
    case = _case(state=CaseState.WITH_AGENT, taken_at=TUESDAY_1730_BERLIN)
    case.record("requested", TUESDAY_0900_BERLIN, 2)
    case.record("taken", TUESDAY_1730_BERLIN, 30600, "Agent Kim")
    stored = case.to_json()
    assert stored["customerId"] == "cust" and stored["state"] == "withAgent"
    assert "closedAt" not in stored and "agent" not in stored  # nothing kept that is not known
    assert stored["events"] == [
        {"name": "requested", "at": "2026-11-24T08:00:00Z", "value": 2.0},
        {"name": "taken", "at": "2026-11-24T16:30:00Z", "value": 30600.0, "detail": "Agent Kim"},
    ]
    assert Case.from_json(stored) == case
    assert case.wait_seconds == 30600 and case.handling_seconds is None
    closed = case.model_copy(update={"closed_at": datetime(2026, 11, 24, 17, 0, tzinfo=UTC)})
    assert closed.handling_seconds == 1800
    assert _case().wait_seconds is None and _case().handling_seconds is None
    assert CaseState.WAITING.open and CaseState.WITH_AGENT.open
    assert not any(state.open for state in CaseState if state not in {
        CaseState.WAITING, CaseState.WITH_AGENT})  # fmt: skip
