"""Every metric from a fixed list of events, with the right answers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics.events import ConversationEvent, EventName
from analytics.metrics import report, sessions

DAY = datetime(2026, 11, 24, tzinfo=UTC)
E = EventName


def at(hours: int, minutes: int = 0, seconds: int = 0, day: int = 0) -> datetime:
    return DAY.replace(day=24 + day, hour=hours, minute=minutes, second=seconds)


def event(name: EventName, when: datetime, conversation: str, task: str | None = None,
          **props: object) -> ConversationEvent:  # fmt: skip
    customer, channel = CONVERSATIONS[conversation]
    return ConversationEvent(name, when, channel, customer, conversation, task, dict(props))


# conversation -> (customer, channel)
CONVERSATIONS = {
    "w1": ("ana", "webchat"), "t1": ("ana", "msteams"), "w2": ("ben", "webchat"),
    "f1": ("cho", "facebook"), "w3": ("dee", "webchat"),
}  # fmt: skip

EVENTS = [
    # Ana on web chat: an order answered (helpful), then a greeting 48 minutes later.
    event(E.INTENT_RECOGNIZED, at(9), "w1", intent="orderStatus"),
    event(E.TASK_STARTED, at(9), "w1", "orderStatus"),
    event(E.TASK_STEP, at(9, 1), "w1", "orderStatus", step="askNumber"),
    event(E.TASK_COMPLETED, at(9, 2), "w1", "orderStatus"),
    event(E.FEEDBACK, at(9, 2, 30), "w1", "orderStatus", helpful=True),
    event(E.INTENT_RECOGNIZED, at(9, 50), "w1", intent="greeting"),
    # Ana again, the next morning on Teams, about an order again (within 24 hours).
    event(E.INTENT_RECOGNIZED, at(8, day=1), "t1", intent="orderStatus"),
    event(E.TASK_STARTED, at(8, day=1), "t1", "orderStatus"),
    event(E.TASK_COMPLETED, at(8, 1, day=1), "t1", "orderStatus"),
    # Ben: not understood once, then a booking left half-way.
    event(E.NOT_UNDERSTOOD, at(10), "w2"),
    event(E.INTENT_RECOGNIZED, at(10, 1), "w2", intent="bookAppointment"),
    event(E.TASK_STARTED, at(10, 1), "w2", "bookAppointment"),
    event(E.TASK_STEP, at(10, 2), "w2", "bookAppointment", step="when"),
    event(E.TASK_STEP, at(10, 20), "w2", "bookAppointment", step="slots"),
    # Cho on Messenger: a person, 3 minutes' wait, satisfaction 4.
    event(E.INTENT_RECOGNIZED, at(11), "f1", intent="humanHandoff"),
    event(E.HANDOFF_REQUESTED, at(11, 0, 30), "f1"),
    event(E.HANDOFF_TAKEN, at(11, 3, 30), "f1", waitSeconds=180),
    event(E.HANDOFF_ENDED, at(11, 13, 30), "f1"),
    event(E.SATISFACTION, at(11, 14), "f1", score=4),
    # Dee: a device fixed in 10 minutes, "not helpful", then "that's not what I meant".
    event(E.INTENT_RECOGNIZED, at(12), "w3", intent="troubleshoot"),
    event(E.TASK_STARTED, at(12), "w3", "troubleshoot"),
    event(E.TASK_COMPLETED, at(12, 10), "w3", "troubleshoot"),
    event(E.FEEDBACK, at(12, 10, 30), "w3", "troubleshoot", helpful=False),
    event(E.MISUNDERSTOOD, at(12, 11), "w3"),
]


def test_sessions_split_after_30_minutes_of_silence() -> None:
    found = sessions(reversed(EVENTS))  # order does not matter
    assert [(s.conversation, s.start, s.end) for s in found] == [
        ("w1", at(9), at(9, 2, 30)), ("w1", at(9, 50), at(9, 50)), ("w2", at(10), at(10, 20)),
        ("f1", at(11), at(11, 14)), ("w3", at(12), at(12, 11)),
        ("t1", at(8, day=1), at(8, 1, day=1)),
    ]  # fmt: skip


def test_every_metric_overall() -> None:
    figures = report(EVENTS)
    # 6 sessions; the greeting is not engaged. Ana's web session was answered but she came
    # back about the same order on Teams within 24 hours: not contained. Her Teams session
    # and Dee's are; Ben's booking was abandoned; Cho's went to a person.
    assert {k: figures[k] for k in ("sessions", "engaged", "resolved", "cameBack",
                                    "abandoned", "escalated")} == {
        "sessions": 6, "engaged": 5, "resolved": 2, "cameBack": 1, "abandoned": 1,
        "escalated": 1,
    }  # fmt: skip
    assert (figures["containmentRate"], figures["handoffRate"], figures["abandonRate"]) == (
        0.4, 0.2, 0.2,
    )  # fmt: skip
    assert figures["notUnderstoodRate"] == round(1 / 7, 4)  # 1 missed, 6 understood
    assert figures["intents"] == {"orderStatus": 2, "greeting": 1, "bookAppointment": 1,
                                  "humanHandoff": 1, "troubleshoot": 1}  # fmt: skip
    assert figures["tasks"] == {
        "orderStatus": {"started": 2, "completed": 2, "cancelled": 0, "abandoned": 0,
                        "steps": {"askNumber": 1}, "completionRate": 1.0},
        "bookAppointment": {"started": 1, "completed": 0, "cancelled": 0, "abandoned": 1,
                            "steps": {"when": 1, "slots": 1}, "completionRate": 0.0},
        "troubleshoot": {"started": 1, "completed": 1, "cancelled": 0, "abandoned": 0,
                         "steps": {}, "completionRate": 1.0},
    }  # fmt: skip
    assert figures["resolutionSeconds"] == 260.0  # (120 + 60 + 600) / 3
    assert figures["timeToHandoffSeconds"] == 30.0
    assert figures["agentWaitSeconds"] == 180.0
    assert (figures["handoffsEnded"], figures["csat"], figures["csatResponseRate"]) == (1, 4.0, 1.0)
    assert (figures["helpfulRate"], figures["feedbackAnswers"]) == (0.5, 2)
    assert figures["misunderstood"] == 1


def test_per_channel_and_per_day() -> None:
    figures = report(EVENTS)
    web = figures["byChannel"]["webchat"]
    counted = ("sessions", "engaged", "resolved", "cameBack", "abandoned")
    assert [web[name] for name in counted] == [4, 3, 1, 1, 1]
    assert figures["byChannel"]["msteams"]["resolved"] == 1
    assert figures["byChannel"]["facebook"]["escalated"] == 1
    assert figures["byChannel"]["facebook"]["csat"] == 4.0
    assert {day: f["sessions"] for day, f in figures["byDay"].items()} == {
        "2026-11-24": 5, "2026-11-25": 1,
    }  # fmt: skip


def test_a_return_after_24_hours_or_about_something_else_is_contained() -> None:
    base = [event(E.TASK_STARTED, at(9), "w1", "orderStatus"),
            event(E.TASK_COMPLETED, at(9, 1), "w1", "orderStatus")]  # fmt: skip
    later = [event(E.TASK_STARTED, at(9, 2, day=1), "t1", "orderStatus")]
    other = [event(E.TASK_STARTED, at(10, day=0), "t1", "bookAppointment")]
    assert report(base + later)["resolved"] == 1  # 24 h 1 min later: a new matter
    assert report(base + other)["resolved"] == 1  # another task: not a call-back
    assert report([])["sessions"] == 0 and report([])["containmentRate"] is None


def test_events_survive_json() -> None:
    assert [ConversationEvent.from_json(e.to_json()) for e in EVENTS] == EVENTS


def test_cancelled_tasks_tickets_and_repeated_steps_are_counted() -> None:
    cancelled = [
        event(E.TASK_STARTED, at(9), "w1", "bookAppointment"),
        event(E.TASK_STEP, at(9, 1), "w1", "bookAppointment", step="when"),
        event(E.TASK_STEP, at(9, 2), "w1", "bookAppointment", step="when"),
        event(E.TASK_CANCELLED, at(9, 3), "w1", "bookAppointment"),
        event(E.TASK_STARTED, at(10), "w2", "bookAppointment"),
        event(E.TASK_CANCELLED, at(10, 1), "w2", "bookAppointment"),
        event(E.TICKET_CREATED, at(10, 2), "w2"),
        event(E.SATISFACTION, at(10, 3), "w2", score=4),
        event(E.SATISFACTION, at(10, 4), "w3", score=5),
        event(E.SATISFACTION, at(10, 5), "f1", score=5),
    ]
    figures = report(cancelled)
    assert figures["tasks"]["bookAppointment"] == {
        "started": 2, "completed": 0, "cancelled": 2, "abandoned": 0,
        "steps": {"when": 2}, "completionRate": 0.0,
    }  # fmt: skip
    assert figures["tickets"] == 1
    assert figures["csat"] == 4.67  # a mean to two decimals


def test_a_session_is_the_customers_and_the_silence_that_splits_it_is_over_30_minutes() -> None:
    exactly = [event(E.INTENT_RECOGNIZED, at(9), "w1", intent="greeting"),
               event(E.INTENT_RECOGNIZED, at(9, 30), "w1", intent="greeting")]  # fmt: skip
    [one] = sessions(exactly)
    assert (one.customer, one.conversation, one.channel) == ("ana", "w1", "webchat")
    assert len(sessions([*exactly, event(E.INTENT_RECOGNIZED, at(10, 0, 1), "w1")])) == 2


def test_coming_back_exactly_24_hours_later_still_counts_and_not_in_the_same_instant() -> None:
    base = [event(E.TASK_STARTED, at(9), "w1", "orderStatus"),
            event(E.TASK_COMPLETED, at(9, 1), "w1", "orderStatus")]  # fmt: skip
    edge = [event(E.TASK_STARTED, at(9, 1, day=1), "t1", "orderStatus")]
    assert report(base + edge)["cameBack"] == 1  # 24 h to the second after: came back
    # A session starting the instant the first ended is the same moment, not a return.
    same_instant = [event(E.TASK_STARTED, at(9, 1), "t1", "orderStatus")]
    assert report(base + same_instant)["cameBack"] == 0
