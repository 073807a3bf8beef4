"""The main router: finds what the customer wants and starts that task.

Help, cancel and asking for a person interrupt any step of any task.
"""

from __future__ import annotations

from botbuilder.dialogs import (
    ComponentDialog,
    DialogContext,
    DialogTurnResult,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)

from channels import replies
from dialogs.clock import Clock
from dialogs.handoff import request_person
from dialogs.order_status_dialog import ORDER_NUMBER, OrderStatusDialog
from dialogs.reply_activity import reply_activity
from nlu.recognizer import Intent, Recognition, Recognizer
from state.customer_context import CustomerContextAccessor


class MainDialog(ComponentDialog):
    def __init__(
        self,
        recognizer: Recognizer,
        order_status_dialog: OrderStatusDialog,
        customer_contexts: CustomerContextAccessor,
        clock: Clock,
    ) -> None:
        super().__init__(MainDialog.__name__)
        self._recognizer = recognizer
        self._customer_contexts = customer_contexts
        self._clock = clock
        self._order_status_id = order_status_dialog.id

        self.add_dialog(order_status_dialog)
        self.add_dialog(WaterfallDialog(WaterfallDialog.__name__, [self.route_step]))
        self.initial_dialog_id = WaterfallDialog.__name__

    async def route_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        recognition = await self._recognizer.recognize(step.context.activity.text or "")
        await self._remember_intent(step, recognition)
        match recognition.intent:
            case Intent.ORDER_STATUS:
                return await step.begin_dialog(
                    self._order_status_id, {ORDER_NUMBER: recognition.order_number}
                )
            case Intent.HUMAN_HANDOFF:
                await request_person(step.context, self._customer_contexts, self._clock)
            case Intent.GREETING:
                await step.context.send_activity(reply_activity(replies.WELCOME))
            case Intent.HELP:
                await step.context.send_activity(reply_activity(replies.HELP))
            case Intent.CANCEL:
                await step.context.send_activity(reply_activity(replies.NOTHING_TO_CANCEL))
            case _:
                await step.context.send_activity(reply_activity(replies.NOT_UNDERSTOOD))
        return await step.end_dialog()

    async def on_continue_dialog(self, inner_dc: DialogContext) -> DialogTurnResult:
        interrupted = await self._interrupt(inner_dc)
        return interrupted or await super().on_continue_dialog(inner_dc)

    async def _interrupt(self, inner_dc: DialogContext) -> DialogTurnResult | None:
        recognition = await self._recognizer.recognize(inner_dc.context.activity.text or "")
        if recognition.intent not in (Intent.HELP, Intent.CANCEL, Intent.HUMAN_HANDOFF):
            return None
        await self._remember_intent(inner_dc, recognition)
        if recognition.intent == Intent.HELP:
            await inner_dc.context.send_activity(reply_activity(replies.HELP))
            await inner_dc.reprompt_dialog()
            return DialogTurnResult(DialogTurnStatus.Waiting)
        if recognition.intent == Intent.CANCEL:
            await inner_dc.context.send_activity(reply_activity(replies.CANCELLED))
        else:
            await request_person(inner_dc.context, self._customer_contexts, self._clock)
        return await inner_dc.cancel_all_dialogs()

    async def _remember_intent(self, dc: DialogContext, recognition: Recognition) -> None:
        if recognition.intent in (Intent.NONE, Intent.GREETING):
            return
        intent = recognition.intent.value
        await self._customer_contexts.update(dc.context, lambda c: c.remember_intent(intent))
