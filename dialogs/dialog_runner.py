"""Runs the root dialog for a turn: continue what is under way, or begin it.

botbuilder's `DialogExtensions.run_dialog` does the same, and on every turn also builds a
new DialogSet, a DialogStateManager over every memory scope, and a "Bot State" trace
holding a deep copy of all dialog memory, which every channel but the Emulator drops
(measured: a third of the deep copies' and a tenth of a turn's CPU). Here the set is built
once and the trace is made only for the Emulator, whose inspector shows it. Skills'
end-of-conversation handling is left out: this bot is not a skill.
"""

from __future__ import annotations

from botbuilder.core import StatePropertyAccessor, TurnContext
from botbuilder.dialogs import (
    Dialog,
    DialogContext,
    DialogEvents,
    DialogExtensions,
    DialogSet,
    DialogTurnResult,
    DialogTurnStatus,
)
from botframework.connector import Channels


class DialogRunner:
    def __init__(self, dialog: Dialog, dialog_state: StatePropertyAccessor) -> None:
        self.dialog = dialog
        self._dialogs = DialogSet(dialog_state)
        self._dialogs.add(dialog)

    async def context(self, turn_context: TurnContext) -> DialogContext:
        return await self._dialogs.create_context(turn_context)

    async def run(self, turn_context: TurnContext) -> DialogTurnResult:
        dialog_context = await self.context(turn_context)
        while True:
            try:
                result = await dialog_context.continue_dialog()
                if result.status == DialogTurnStatus.Empty:
                    result = await dialog_context.begin_dialog(self.dialog.id)
                break
            except Exception as error:
                # As botbuilder does: a dialog may handle the error and go on with the turn.
                handled = await dialog_context.emit_event(
                    DialogEvents.error, error, bubble=True, from_leaf=True
                )
                if not handled:
                    raise
        if turn_context.activity.channel_id == Channels.emulator:
            await DialogExtensions._send_state_snapshot_trace(dialog_context)
        return result
