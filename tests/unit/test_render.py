"""Each channel gets the same answer in the shape it can show."""

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from channels import replies
from channels.calendar import CalendarEvent
from channels.render import (
    ADAPTIVE_CARD,
    HERO_CARD,
    MESSENGER_MAX_TEXT,
    render,
    shorten,
    split_text,
)
from channels.replies import Card, Reply
from tests.conftest import golden

STATUS = Reply(
    "Your order 123456 is out for delivery and expected by 6 PM today.",
    card=Card("Order 123456", (("Status", "out for delivery"), ("Expected", "6 PM today"))),
)
QUESTION = Reply("Is this about order 123456?", ("Yes", "No"))


def test_teams_gets_an_adaptive_card_with_the_facts() -> None:
    [message] = render(STATUS, "msteams", "personal")
    attachment = message["attachments"][0]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert card["version"] == "1.5"
    facts = next(part for part in card["body"] if part["type"] == "FactSet")["facts"]
    assert facts == [
        {"title": "Status", "value": "out for delivery"},
        {"title": "Expected", "value": "6 PM today"},
    ]
    assert "Order 123456" in card["fallbackText"]


def test_teams_choices_are_suggested_in_personal_chat_and_buttons_elsewhere() -> None:
    [personal] = render(QUESTION, "msteams", "personal")
    assert [a["value"] for a in personal["suggestedActions"]["actions"]] == ["Yes", "No"]
    [group] = render(QUESTION, "msteams", "groupChat")
    assert "suggestedActions" not in group
    card = group["attachments"][0]
    assert card["contentType"] == HERO_CARD
    assert card["content"]["text"] == "Is this about order 123456?"
    assert [b["value"] for b in card["content"]["buttons"]] == ["Yes", "No"]


@pytest.mark.parametrize("channel", ["webchat", "directline", "emulator"])
def test_web_chat_gets_the_card_and_suggested_actions(channel: str) -> None:
    [message] = render(Reply(STATUS.text, ("Help",), STATUS.card), channel)
    assert message["text"] == STATUS.text
    assert message["attachments"][0]["contentType"] == ADAPTIVE_CARD
    assert message["suggestedActions"]["actions"][0] == {
        "type": "imBack", "title": "Help", "value": "Help",
    }  # fmt: skip


def test_messenger_never_gets_an_adaptive_card() -> None:
    messages = render(STATUS, "facebook")
    assert messages[0]["text"] == STATUS.text
    assert messages[1]["attachments"][0]["contentType"] == HERO_CARD
    hero = messages[1]["attachments"][0]["content"]
    assert hero["title"] == "Order 123456"
    assert "Status: out for delivery" in hero["text"]
    assert ADAPTIVE_CARD not in str(messages)


def test_messenger_quick_replies_keep_to_its_limits() -> None:
    choices = tuple(f"Choice number {n}" for n in range(14))
    long_title = "Show all my recent orders"
    assert len(long_title) == 25
    [message] = render(Reply("Pick one", (*choices[:-1], long_title)), "facebook")
    actions = message["suggestedActions"]["actions"]
    assert len(actions) == 13
    assert all(len(a["title"]) <= 20 for a in actions)
    [message] = render(Reply("Pick one", ("Yes", long_title)), "facebook")
    shortened = message["suggestedActions"]["actions"][1]
    assert shortened["title"] == "Show all my recent…"
    assert shortened["value"] == long_title  # the payload keeps the full choice


def test_messenger_splits_long_text_between_sentences() -> None:
    sentence = "Your parcel left our depot and is on its way now. "
    text = (sentence * 100).strip() + "!"
    assert len(text) == 5000
    messages = render(Reply(text, ("Help",)), "facebook")
    assert len(messages) == 3
    assert all(len(m["text"]) <= MESSENGER_MAX_TEXT for m in messages)
    assert all(m["text"].endswith(("way now.", "way now.!")) for m in messages)
    assert " ".join(m["text"] for m in messages) == text
    assert "suggestedActions" in messages[-1] and "suggestedActions" not in messages[0]


@pytest.mark.parametrize("channel", ["sms", "telephony", "somethingnew"])
def test_other_channels_get_plain_text_with_numbered_choices(channel: str) -> None:
    [question] = render(QUESTION, channel)
    assert question["text"] == "Is this about order 123456?\n1. Yes\n2. No"
    assert "attachments" not in question and "suggestedActions" not in question
    [status] = render(STATUS, channel)
    assert status["text"].splitlines()[1:] == ["Status: out for delivery", "Expected: 6 PM today"]


def test_shorten_and_split_edges() -> None:
    assert shorten("Talk to a person", 20) == "Talk to a person"
    assert shorten("Supercalifragilisticexpialidocious", 20) == "Supercalifragilisti…"
    assert split_text("short", 2000) == ["short"]
    word = "x" * 2500
    assert [len(p) for p in split_text(word, 2000)] == [2000, 500]


def test_a_booking_comes_with_a_calendar_file_where_the_channel_can_take_one() -> None:
    start = datetime(2026, 11, 27, 10, tzinfo=UTC)
    event = CalendarEvent("AP-7KQ2XM", "Home installation (AP-7KQ2XM)", start,
                          start + timedelta(hours=2), "1 High Street, London")  # fmt: skip
    reply = replies.booked("AP-7KQ2XM", "home installation", "at your home", "Fri 27 Nov", event)
    (web,) = render(reply, "webchat")
    (attachment,) = [a for a in web["attachments"] if a["contentType"] == "text/calendar"]
    assert attachment["name"] == "appointment-AP-7KQ2XM.ics"
    ics = base64.b64decode(attachment["contentUrl"].removeprefix("data:text/calendar;base64,"))
    (parsed,) = Calendar.from_ical(ics).walk("VEVENT")
    assert str(parsed["UID"]) == "AP-7KQ2XM" and parsed.decoded("DTSTART") == start
    assert parsed.decoded("DTEND") - parsed.decoded("DTSTART") == timedelta(hours=2)
    for channel in ("msteams", "facebook", "sms"):
        for message in render(reply, channel):
            types = [a["contentType"] for a in message.get("attachments", [])]
            assert "text/calendar" not in types, channel


# --- every channel's whole message, kept in tests/unit/render_golden.json -----------------
#
# The channels read these shapes field by field (Teams' card schema, Web Chat's suggested
# actions, the Facebook channel's quick replies), so a change to any field is a change the
# customer sees (tests.conftest.golden says how to write the file again).

GOLDEN = Path(__file__).with_name("render_golden.json")
WHEN = datetime(2026, 11, 24, 10, tzinfo=UTC)
RENDERED_REPLIES = {
    "a card with choices": Reply(
        STATUS.text, ("Keep me posted", "Help"),
        Card("Order 123456", (("Status", "out for delivery"),), "Left the depot at 9.",
             "https://shop.example/parcel.png"),
    ),
    "a card without facts or choices": Reply("Here it is.", card=Card("Router", text="Model X")),
    "a question": QUESTION,
    "plain words": Reply("Anything else I can do?"),
    "a day to pick": Reply("Which day suits you?", ("Tomorrow",), pick_day="Pick this day"),
    "a booking": replies.booked(
        "AP-7KQ2XM", "home installation", "at your home", "Fri 27 Nov",
        CalendarEvent("AP-7KQ2XM", "Home installation (AP-7KQ2XM)", WHEN,
                      WHEN + timedelta(hours=2), "1 High Street, London"),
    ),
    "an answer asking if it helped": Reply("Done.", feedback=True, follow_ups=("Keep me posted",)),
    "a long answer with many choices": Reply(
        "First sentence here. " * 120 + "x" * 2100,
        tuple(f"Choice number {n} with a title far too long for Messenger" for n in range(15)),
    ),
}  # fmt: skip
RENDERED_ON = {
    "Teams, personal": ("msteams", "personal", None),
    "Teams, a channel": ("msteams", "channel", None),
    "Web Chat": ("webchat", None, None),
    "Web Chat, in Spanish": ("webchat", None, "es"),
    "Messenger": ("facebook", None, None),
    "SMS": ("sms", None, None),
}


def rendered_everywhere() -> dict[str, dict[str, list[dict]]]:
    return {
        name: {
            place: render(reply, channel, kind, WHEN, language)
            for place, (channel, kind, language) in RENDERED_ON.items()
        }
        for name, reply in RENDERED_REPLIES.items()
    }


def test_every_channel_gets_the_whole_message_it_got_before() -> None:
    rendered = json.loads(json.dumps(rendered_everywhere()))
    kept = json.loads(golden(GOLDEN, json.dumps(rendered, indent=1, ensure_ascii=False) + "\n"))
    for name, places in kept.items():
        for place, messages in places.items():
            assert rendered[name][place] == messages, f"{name}, {place}"
    assert rendered.keys() == kept.keys()
