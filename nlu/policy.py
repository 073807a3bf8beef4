"""What to do with a recognition: act on it, ask which of two it was, or admit not knowing.

Plain Python. The thresholds are settings (NLU_CONFIDENCE_THRESHOLD,
NLU_AMBIGUITY_MARGIN), chosen from the held-out evaluation (README).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nlu.recognizer import Intent, Recognition

# Intents worth asking about when two are close ("check an order, or book a repair?").
TASKS = frozenset(
    {
        Intent.ORDER_STATUS,
        Intent.BOOK_APPOINTMENT,
        Intent.CHANGE_APPOINTMENT,
        Intent.TROUBLESHOOT,
        Intent.HUMAN_HANDOFF,
        Intent.LINK_CHANNEL,
        Intent.DELETE_DATA,
    }
)


class Decision(StrEnum):
    ACT = "act"
    ASK = "ask"
    UNSURE = "unsure"


@dataclass(frozen=True)
class Thresholds:
    # Below this the bot says what it can do instead of guessing.
    confidence: float = 0.3
    # Two task intents closer than this: the bot asks which one was meant.
    ambiguity_margin: float = 0.1
    # Leaving a task half-way (help, cancel, a person...) needs more certainty.
    interruption: float = 0.6


def decide(recognition: Recognition, thresholds: Thresholds) -> tuple[Decision, tuple[Intent, ...]]:
    if recognition.intent == Intent.NONE or recognition.confidence < thresholds.confidence:
        return Decision.UNSURE, ()
    if recognition.runners_up and recognition.intent in TASKS:
        second, score = recognition.runners_up[0]
        if second in TASKS and recognition.confidence - score < thresholds.ambiguity_margin:
            return Decision.ASK, (recognition.intent, second)
    return Decision.ACT, (recognition.intent,)
