"""A task's waterfall that records each step it reaches, for the task funnel."""

from __future__ import annotations

from collections.abc import Sequence

from botbuilder.dialogs import DialogTurnResult, WaterfallDialog, WaterfallStepContext

from analytics.events import EventName
from dialogs.turn_events import record


class TaskWaterfall(WaterfallDialog):
    def __init__(self, task: str, steps: Sequence) -> None:
        # Keeps botbuilder's id for a component's waterfall: dialogs replace it by that id.
        super().__init__(WaterfallDialog.__name__, list(steps))
        self._task = task

    async def on_step(self, step_context: WaterfallStepContext) -> DialogTurnResult:
        name = self._steps[step_context.index].__name__.removesuffix("_step")
        record(step_context.context, EventName.TASK_STEP, self._task, step=name)
        return await super().on_step(step_context)
