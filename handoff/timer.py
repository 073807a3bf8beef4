"""The hand-off clock: times out cases nobody took and reminds agents, on every instance.

Each tick reads the queue and changes cases through etag'd writes, so instances ticking
at once make each change once. Started and stopped with the app.
"""

from __future__ import annotations

from handoff.service import HandoffService
from state.periodic import Periodic

TICK_SECONDS = 15.0
# One tick never runs longer than this (a slow store or channel must not pile ticks up).
TICK_DEADLINE = 10.0


def handoff_timer(handoff: HandoffService) -> Periodic:
    return Periodic("handoff-timer", TICK_SECONDS, handoff.tick, TICK_DEADLINE)
