"""The metrics a support lead reads, each defined once, here, from a list of events.

- A **session** is one conversation's events with no silence over SESSION_GAP (30 minutes,
  as Copilot Studio's session timeout).
- A session is **engaged** when the customer started a task or asked for a person
  (Copilot Studio: "engaged"; sessions that only greet are not).
- An engaged session is **escalated** when it asked for a person (Copilot Studio:
  "escalated"; Dialogflow CX: live-agent hand-off rate; Chatwoot: hand-off rate).
- Otherwise it is **resolved** (contained) when a task was completed and the customer did
  not start the same task again, on any channel, within CONTAINMENT_WINDOW (24 hours) of
  the session's end (Dialogflow CX: contained, "no call-back within 24 hours"; here across
  every channel, since the bot knows the customer on each).
- It **came back** when a task was completed but the customer started the same task again
  within the window: answered, not contained.
- It is **abandoned** when no task was completed (Copilot Studio, Rasa: "abandoned"); a
  task is abandoned when started and neither completed nor cancelled.
- The **not-understood rate** is messages not understood over messages interpreted.
- **Resolution time** is a task's start to its completion; **time to hand-off** a session's
  start to the request for a person; **agent wait** the request to an agent taking it.
- **CSAT** is the mean satisfaction score (1 to 5) after hand-offs (Copilot Studio: CSAT),
  its **response rate** scores over hand-offs ended; the **helpful rate** is "yes" answers
  over answers to "Was this helpful?".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from statistics import fmean
from typing import Any

from analytics.events import ConversationEvent, EventName

SESSION_GAP = timedelta(minutes=30)
CONTAINMENT_WINDOW = timedelta(hours=24)

ESCALATED, RESOLVED, CAME_BACK, ABANDONED, UNENGAGED = (
    "escalated", "resolved", "cameBack", "abandoned", "unengaged",
)  # fmt: skip


@dataclass(frozen=True)
class Session:
    customer: str
    conversation: str
    channel: str
    events: tuple[ConversationEvent, ...]

    @property
    def start(self):
        return self.events[0].at

    @property
    def end(self):
        return self.events[-1].at

    def has(self, name: EventName) -> bool:
        return any(e.name == name for e in self.events)

    def tasks(self, name: EventName) -> set[str]:
        return {e.task for e in self.events if e.name == name and e.task}

    @property
    def engaged(self) -> bool:
        return self.has(EventName.TASK_STARTED) or self.has(EventName.HANDOFF_REQUESTED)


def sessions(events: Iterable[ConversationEvent]) -> list[Session]:
    """Each conversation's events, split where nothing happened for over SESSION_GAP."""
    by_conversation: dict[str, list[ConversationEvent]] = defaultdict(list)
    for event in events:
        by_conversation[event.conversation].append(event)
    found = []
    for conversation_events in by_conversation.values():
        conversation_events.sort(key=lambda e: e.at)
        current: list[ConversationEvent] = []
        for event in conversation_events:
            if current and event.at - current[-1].at > SESSION_GAP:
                found.append(_session(current))
                current = []
            current.append(event)
        found.append(_session(current))
    return sorted(found, key=lambda s: s.start)


def _session(events: list[ConversationEvent]) -> Session:
    first = events[0]
    return Session(first.customer, first.conversation, first.channel, tuple(events))


def outcome(session: Session, everyone: list[Session]) -> str:
    """The session's outcome: escalated, resolved, cameBack, abandoned or unengaged."""
    if not session.engaged:
        return UNENGAGED
    if session.has(EventName.HANDOFF_REQUESTED):
        return ESCALATED
    completed = session.tasks(EventName.TASK_COMPLETED)
    if not completed:
        return ABANDONED
    window_end = session.end + CONTAINMENT_WINDOW
    for later in everyone:
        if (
            later.customer == session.customer
            and later is not session
            and session.end < later.start <= window_end
            and later.tasks(EventName.TASK_STARTED) & completed
        ):
            return CAME_BACK
    return RESOLVED


def report(events: Iterable[ConversationEvent]) -> dict[str, Any]:
    """Every metric, overall, per channel and per day (UTC)."""
    events = list(events)
    everyone = sessions(events)
    outcomes = {id(s): outcome(s, everyone) for s in everyone}
    result = _figures(everyone, outcomes)
    channels = sorted({s.channel for s in everyone})
    result["byChannel"] = {
        channel: _figures([s for s in everyone if s.channel == channel], outcomes)
        for channel in channels
    }
    days = sorted({s.start.date().isoformat() for s in everyone})
    result["byDay"] = {
        day: _figures([s for s in everyone if s.start.date().isoformat() == day], outcomes)
        for day in days
    }
    return result


def _figures(chosen: list[Session], outcomes: dict[int, str]) -> dict[str, Any]:
    counted = Counter(outcomes[id(s)] for s in chosen)
    engaged = sum(counted[o] for o in (ESCALATED, RESOLVED, CAME_BACK, ABANDONED))
    events = [e for s in chosen for e in s.events]
    named: dict[EventName, list[ConversationEvent]] = defaultdict(list)
    for event in events:
        named[event.name].append(event)
    understood, missed = (
        len(named[EventName.INTENT_RECOGNIZED]),
        len(named[EventName.NOT_UNDERSTOOD]),
    )
    helpful = [bool(e.props.get("helpful")) for e in named[EventName.FEEDBACK]]
    scores = [float(e.props["score"]) for e in named[EventName.SATISFACTION]
              if isinstance(e.props.get("score"), int | float)]  # fmt: skip
    ended = len(named[EventName.HANDOFF_ENDED])
    return {
        "sessions": len(chosen),
        "engaged": engaged,
        "resolved": counted[RESOLVED],
        "escalated": counted[ESCALATED],
        "cameBack": counted[CAME_BACK],
        "abandoned": counted[ABANDONED],
        "containmentRate": _rate(counted[RESOLVED], engaged),
        "handoffRate": _rate(counted[ESCALATED], engaged),
        "abandonRate": _rate(counted[ABANDONED], engaged),
        "notUnderstoodRate": _rate(missed, understood + missed),
        "misunderstood": len(named[EventName.MISUNDERSTOOD]),
        "intents": dict(
            Counter(
                str(e.props.get("intent")) for e in named[EventName.INTENT_RECOGNIZED]
            ).most_common()
        ),
        "tasks": _tasks(chosen),
        "resolutionSeconds": _mean(_resolution_times(chosen)),
        "timeToHandoffSeconds": _mean(
            (e.at - s.start).total_seconds()
            for s in chosen
            for e in s.events
            if e.name == EventName.HANDOFF_REQUESTED
        ),
        "agentWaitSeconds": _mean(
            float(e.props["waitSeconds"])
            for e in named[EventName.HANDOFF_TAKEN]
            if isinstance(e.props.get("waitSeconds"), int | float)
        ),
        "handoffsEnded": ended,
        "csat": _mean(scores),
        "csatResponseRate": _rate(len(scores), ended),
        "helpfulRate": _rate(sum(helpful), len(helpful)),
        "feedbackAnswers": len(helpful),
        "tickets": len(named[EventName.TICKET_CREATED]),
    }


def _tasks(chosen: list[Session]) -> dict[str, dict[str, Any]]:
    """Per task: how many started, completed, cancelled, abandoned, and reached each step."""
    tasks: dict[str, dict[str, Any]] = {}
    for event in (e for s in chosen for e in s.events if e.task):
        figures = tasks.setdefault(event.task, {"started": 0, "completed": 0, "cancelled": 0,
                                                "abandoned": 0, "steps": Counter()})  # fmt: skip
        match event.name:
            case EventName.TASK_STARTED:
                figures["started"] += 1
            case EventName.TASK_COMPLETED:
                figures["completed"] += 1
            case EventName.TASK_CANCELLED:
                figures["cancelled"] += 1
            case EventName.TASK_STEP:
                figures["steps"][str(event.props.get("step"))] += 1
    for figures in tasks.values():
        # Started and neither answered nor stopped: left half-way.
        figures["abandoned"] = max(0, figures["started"] - figures["completed"]
                                   - figures["cancelled"])  # fmt: skip
        figures["steps"] = dict(figures["steps"])
        figures["completionRate"] = _rate(figures["completed"], figures["started"])
    return tasks


def _resolution_times(chosen: list[Session]) -> list[float]:
    times = []
    for session in chosen:
        started: dict[str, object] = {}
        for event in session.events:
            if event.name == EventName.TASK_STARTED and event.task:
                started[event.task] = event.at
            elif event.name == EventName.TASK_COMPLETED and event.task in started:
                times.append((event.at - started.pop(event.task)).total_seconds())
    return times


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(fmean(values), 2) if values else None
