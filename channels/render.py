"""One reply, shaped for each channel: Bot Framework message activities as plain JSON.

Plain Python (the shape of Rasa's output channels): the dialogs say *what* to
say (`channels/replies.py`); a renderer per channel family decides *how*:

- msteams: an Adaptive Card (schema 1.5) for structured answers, choices as card
  buttons; suggested actions only in personal chat, the one place Teams shows them.
- webchat, directline, emulator: Adaptive Card plus suggested actions.
- facebook: no Adaptive Cards (Messenger shows them as dead images): a hero card,
  at most 13 quick replies of at most 20 characters, text split under 2,000.
- anything else (sms, telephony, unknown): plain text, choices numbered.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from channels.replies import FEEDBACK_CHOICES, Card, Reply, in_language

Json = dict[str, Any]

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
HERO_CARD = "application/vnd.microsoft.card.hero"
CALENDAR = "text/calendar"
WEB_CHANNELS = frozenset({"webchat", "directline", "emulator"})
# Channels whose rendering is known, each a Bot Framework channel id; others get plain text.
KNOWN_CHANNELS = ("webchat", "directline", "emulator", "msteams", "facebook", "sms", "telephony")
MESSENGER_MAX_QUICK_REPLIES = 13
MESSENGER_MAX_TITLE = 20
MESSENGER_MAX_TEXT = 2000


def render(
    reply: Reply,
    channel_id: str,
    conversation_type: str | None = None,
    now: datetime | None = None,
    language: str | None = None,
) -> list[Json]:
    """The message activities (as JSON) that show `reply` on this channel, in order, in
    `language` (English when None)."""
    if channel_id == "msteams":
        reply = in_language(replace(reply, choices=reply.choices or reply.follow_ups), language)
        message = _teams(reply, personal=conversation_type in (None, "personal"))
        if reply.feedback:
            # Teams shows its own thumbs up and down; a click is a message/submitAction.
            message["channelData"] = {"feedbackLoopEnabled": True}
        return [message]
    reply = in_language(replace(reply, choices=shown_choices(reply, channel_id)), language)
    if channel_id in WEB_CHANNELS:
        return [_web(reply, now or datetime.now(UTC))]
    if channel_id == "facebook":
        return _messenger(reply)
    return [_plain(reply)]


def shown_choices(reply: Reply, channel_id: str) -> tuple[str, ...]:
    """The choices the customer sees: an answer asking for feedback offers HELPFUL and
    NOT_HELPFUL (after its follow-ups) where the channel has no feedback buttons of its own."""
    if reply.feedback and not reply.choices and channel_id != "msteams":
        return reply.follow_ups + FEEDBACK_CHOICES
    return reply.choices or reply.follow_ups


# --- per channel -------------------------------------------------------------


def _teams(reply: Reply, *, personal: bool) -> Json:
    message = _message(reply.text)
    if reply.card is not None:
        card = _adaptive_card(reply.card)
        if reply.choices and not personal:
            card["actions"] = [_teams_button(choice) for choice in reply.choices]
        message["attachments"] = [{"contentType": ADAPTIVE_CARD, "content": card}]
    elif reply.choices and not personal:
        message["attachments"] = [
            {
                "contentType": HERO_CARD,
                "content": {
                    "text": reply.text,
                    "buttons": [_im_back(choice, choice) for choice in reply.choices],
                },
            }
        ]
        message.pop("text")
    if reply.pick_day:
        message.setdefault("attachments", []).append(_day_picker(reply.pick_day))
    if reply.choices and personal:
        message["suggestedActions"] = _suggested(reply.choices)
    return message


def _web(reply: Reply, now: datetime) -> Json:
    message = _message(reply.text)
    if reply.card is not None:
        message["attachments"] = [
            {"contentType": ADAPTIVE_CARD, "content": _adaptive_card(reply.card)}
        ]
    if reply.pick_day:
        message.setdefault("attachments", []).append(_day_picker(reply.pick_day))
    if reply.calendar is not None:
        # Web Chat offers a file attachment as a download; Teams and Messenger would need
        # a public URL (and Teams a file consent), so only web channels get one.
        message.setdefault("attachments", []).append(
            {"contentType": CALENDAR, "contentUrl": reply.calendar.data_url(now),
             "name": reply.calendar.file_name()}
        )  # fmt: skip
    if reply.choices:
        message["suggestedActions"] = _suggested(reply.choices)
    return message


def _messenger(reply: Reply) -> list[Json]:
    messages = [_message(part) for part in split_text(reply.text, MESSENGER_MAX_TEXT)]
    if reply.card is not None:
        # The Facebook channel turns a hero card into Messenger's generic template.
        messages.append({"type": "message", "attachments": [_hero_card(reply.card)]})
    if reply.choices:
        choices = reply.choices[:MESSENGER_MAX_QUICK_REPLIES]
        messages[-1]["suggestedActions"] = {
            "actions": [
                _im_back(shorten(choice, MESSENGER_MAX_TITLE), choice) for choice in choices
            ]
        }
    return messages


def _plain(reply: Reply) -> Json:
    lines = [reply.text]
    if reply.card is not None and reply.card.facts:
        lines += [f"{name}: {value}" for name, value in reply.card.facts]
    if reply.choices:
        lines += [f"{number}. {choice}" for number, choice in enumerate(reply.choices, 1)]
    return _message("\n".join(lines))


# --- parts -------------------------------------------------------------------


def _message(text: str) -> Json:
    return {"type": "message", "text": text, "inputHint": "acceptingInput"}


def _adaptive_card(card: Card) -> Json:
    body: list[Json] = [
        {
            "type": "TextBlock",
            "text": card.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    if card.text:
        body.append({"type": "TextBlock", "text": card.text, "wrap": True})
    if card.facts:
        body.append({"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in card.facts]})
    if card.image_url:
        body.append({"type": "Image", "url": card.image_url, "altText": card.title})
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": body,
        "fallbackText": card.fallback_text(),
    }


def _day_picker(label: str) -> Json:
    """A date input; its submit arrives as the message's `value` ({"day": "2026-11-27"}),
    which the bot reads as the answer."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "Input.Date", "id": "day", "label": "Day"}],
        "actions": [{"type": "Action.Submit", "title": label}],
        "fallbackText": "Type the day that suits you.",
    }
    return {"contentType": ADAPTIVE_CARD, "content": card}


def _hero_card(card: Card) -> Json:
    lines = [f"{name}: {value}" for name, value in card.facts]
    content: Json = {"title": card.title, "text": "\n".join([*lines, card.text or ""]).strip()}
    if card.image_url:
        content["images"] = [{"url": card.image_url, "alt": card.title}]
    return {"contentType": HERO_CARD, "content": content}


def _teams_button(choice: str) -> Json:
    # Sends the choice as if typed, so prompts read it like any other answer.
    return {"type": "Action.Submit", "title": choice,
            "data": {"msteams": {"type": "imBack", "value": choice}}}  # fmt: skip


def _im_back(title: str, value: str) -> Json:
    return {"type": "imBack", "title": title, "value": value}


def _suggested(choices: tuple[str, ...]) -> Json:
    return {"actions": [_im_back(choice, choice) for choice in choices]}


def shorten(title: str, limit: int) -> str:
    """At most `limit` characters, cut at a word where one is near, with an ellipsis."""
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, split between sentences (words if one is longer)."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:  # a sentence longer than a message: split at a word
            head = sentence[:limit].rsplit(" ", 1)[0] or sentence[:limit]
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
            sentence = sentence[len(head) :].lstrip()
        joined = f"{current} {sentence}".strip()
        if len(joined) <= limit:
            current = joined
        else:
            pieces.append(current)
            current = sentence
    if current:
        pieces.append(current)
    return pieces
