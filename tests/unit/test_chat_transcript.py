"""The chat client shows what the bot sent as readable text."""

import pytest

from tools.chat import Transcript


def test_suggested_actions_are_numbered_and_remembered(capsys: pytest.CaptureFixture) -> None:
    transcript = Transcript()
    transcript.show(
        {
            "type": "message",
            "text": "Is this about order 123456?",
            "suggestedActions": {
                "actions": [
                    {"type": "imBack", "title": "Yes", "value": "Yes"},
                    {"type": "imBack", "title": "No", "value": "No"},
                ]
            },
        }
    )
    assert capsys.readouterr().out == "bot> Is this about order 123456?\n     [1] Yes   [2] No\n"
    assert transcript.choices == ["Yes", "No"]


def test_cards_are_shown_as_text(capsys: pytest.CaptureFixture) -> None:
    Transcript().show(
        {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.hero",
                    "content": {"text": "Talk to a person?", "buttons": [{"title": "Yes"}]},
                },
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "body": [
                            {"type": "TextBlock", "text": "Order 123456"},
                            {"type": "FactSet", "facts": [{"title": "ETA", "value": "6 PM"}]},
                            {
                                "type": "Container",
                                "items": [{"type": "TextBlock", "text": "Shipped"}],
                            },
                        ],
                        "actions": [{"type": "Action.Submit", "title": "Track"}],
                    },
                },
                {"contentType": "image/png", "name": "label.png"},
            ],
        }
    )
    assert capsys.readouterr().out.splitlines() == [
        "     Talk to a person?",
        "     [Yes]",
        "     Order 123456",
        "     ETA: 6 PM",
        "     Shipped",
        "     [Track]",
        "     (attachment: image/png label.png)",
    ]


def test_multi_line_text_stays_aligned(capsys: pytest.CaptureFixture) -> None:
    Transcript().show({"type": "message", "text": "Here is what I can do:\n- Order status"})
    assert capsys.readouterr().out == "bot> Here is what I can do:\n     - Order status\n"


def test_typing_is_shown(capsys: pytest.CaptureFixture) -> None:
    Transcript().show({"type": "typing"})
    assert capsys.readouterr().out == "  (typing…)\n"
