"""Where is my order? Find the order number, look it up, answer with status and ETA."""

from __future__ import annotations

import re
from datetime import datetime

from botbuilder.core import StatePropertyAccessor, TurnContext
from botbuilder.dialogs import (
    ComponentDialog,
    DialogInstance,
    DialogReason,
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import (
    PromptValidatorContext,
    TextPrompt,
)
from botbuilder.schema import Activity, ActivityTypes

from channels import replies
from customers.context import Topic
from dialogs.clock import Clock, customer_now
from dialogs.feedback import send_answer
from dialogs.handoff_dialog import REASON, HandoffDialog
from dialogs.reply_activity import confirm_prompt, prompt_options, send_reply
from dialogs.task_waterfall import TaskWaterfall
from handoff.cases import Reason
from notifications.updates import Updates
from services.orders import (
    MAX_ORDER_MISSES,
    ORDER_MISS_WINDOW,
    Order,
    OrderNotFound,
    OrderService,
    OrderServiceUnavailable,
    find_order_number,
    is_final,
)
from state.customer_context import CustomerContextAccessor, turn_customer_id

# After this many answers without an order number, offer a person instead of asking again.
MAX_ORDER_NUMBER_TRIES = 3

# Options a caller may pass: an order number already known, or not to offer the recent one;
# FOLLOW, an order to send updates about (the customer accepted the offer).
ORDER_NUMBER = "orderNumber"
FOLLOW = "follow"
SKIP_RECENT_ORDER = "skipRecentOrder"

_ORDER_NUMBER_PROMPT = "OrderStatusDialog.orderNumber"
_PROOF_PROMPT = "OrderStatusDialog.proof"
_YES_OR_ORDER_NUMBER_PROMPT = "OrderStatusDialog.yesOrOrderNumber"
_YES_NO_PROMPT = "OrderStatusDialog.yesNo"
_RECENT, _OFFERED = "recentOrder", "offered"
_OFFERED_PERSON, _OFFERED_RETRY, _ASKED_PROOF = "person", "retry", "proof"
_PROVING = "proving"
# "Keep me posted", or a yes, to the offer of updates.
ACCEPTS_UPDATES = re.compile(
    r"\s*(?:keep me posted|yes|yes please|yeah|yep|sure|ok(?:ay)?|please do|please|"
    r"(?:yes,? )?(?:please )?(?:tell|let|notify) me(?: know)?(?: when it changes)?)[\s.!]*",
    re.IGNORECASE,
)


class OrderStatusDialog(ComponentDialog):
    def __init__(
        self,
        orders: OrderService,
        customer_contexts: CustomerContextAccessor,
        clock: Clock,
        conversation_misses: StatePropertyAccessor,
        *,
        proof_required: bool = False,
        updates: Updates | None = None,
        updates_offer: StatePropertyAccessor | None = None,
    ) -> None:
        super().__init__(OrderStatusDialog.__name__)
        self._orders = orders
        self._customer_contexts = customer_contexts
        self._clock = clock
        # Order numbers that found nothing in this conversation (ISO times), for the limit.
        self._conversation_misses = conversation_misses
        self._proof_required = proof_required
        # None: updates are off (no subscription is offered).
        self._updates = updates
        # The order whose updates the last answer offered, in this conversation.
        self._updates_offer = updates_offer

        self.add_dialog(
            TaskWaterfall(
                "orderStatus",
                [
                    self.offer_recent_order_step,
                    self.ask_order_number_step,
                    self.look_up_step,
                    self.follow_up_step,
                ],
            )
        )
        self.add_dialog(TextPrompt(_ORDER_NUMBER_PROMPT, self.order_number_validator))
        self.add_dialog(TextPrompt(_PROOF_PROMPT))
        self.add_dialog(
            confirm_prompt(_YES_OR_ORDER_NUMBER_PROMPT, self.yes_no_or_order_number_validator)
        )
        self.add_dialog(confirm_prompt(_YES_NO_PROMPT))
        self.initial_dialog_id = WaterfallDialog.__name__

    async def offer_recent_order_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = step.options or {}
        if options.get(FOLLOW):
            return await self._subscribe(step, options[FOLLOW])
        if options.get(ORDER_NUMBER):
            return await step.next(options[ORDER_NUMBER])
        if not options.get(SKIP_RECENT_ORDER):
            context = await self._customer_contexts.get(step.context)
            recent = context.recent_order_number(self._clock())
            if recent:
                step.values[_RECENT] = recent
                return await step.prompt(
                    _YES_OR_ORDER_NUMBER_PROMPT,
                    prompt_options(step.context, replies.offer_recent_order(recent)),
                )
        return await step.next(None)

    async def ask_order_number_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        if isinstance(step.result, str):
            return await step.next(step.result)
        if _RECENT in step.values:
            # "No, it's 654321" answers the offer with another number.
            written = find_order_number(step.context.activity.text or "")
            if written or step.result is True:
                return await step.next(written or step.values[_RECENT])
        # Open until answered: another channel can offer to continue it.
        channel, now = step.context.activity.channel_id, self._clock()
        await self._customer_contexts.update(
            step.context, lambda c: c.begin_task("orderStatus", "askOrderNumber", channel, now)
        )
        return await step.prompt(
            _ORDER_NUMBER_PROMPT,
            prompt_options(step.context, replies.ASK_ORDER_NUMBER, replies.ORDER_NUMBER_FORMAT),
        )

    async def look_up_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        order_number = find_order_number(step.result or "")
        if order_number is None:
            step.values[_OFFERED] = _OFFERED_PERSON
            return await step.prompt(
                _YES_NO_PROMPT, prompt_options(step.context, replies.OFFER_PERSON_AFTER_TRIES)
            )

        if await self._lookups_paused(step.context):
            await send_reply(step.context, replies.ORDER_LOOKUPS_PAUSED)
            return await step.end_dialog()
        await step.context.send_activity(Activity(type=ActivityTypes.typing))
        try:
            order = await self._orders.get_order(order_number)
        except OrderNotFound:
            await self._record_miss(step.context)
            step.values[_OFFERED] = _OFFERED_RETRY
            return await step.prompt(
                _YES_OR_ORDER_NUMBER_PROMPT,
                prompt_options(step.context, replies.order_not_found(order_number)),
            )
        except OrderServiceUnavailable:
            await send_reply(step.context, replies.ORDER_SYSTEM_DOWN)
            return await step.end_dialog()

        if self._proof_required:
            context = await self._customer_contexts.get(step.context)
            if order_number not in context.verified_orders:
                step.values[_OFFERED], step.values[_PROVING] = _ASKED_PROOF, order_number
                return await step.prompt(
                    _PROOF_PROMPT, prompt_options(step.context, replies.ASK_ORDER_PROOF)
                )
        return await self._answer(step, order)

    async def _answer(self, step: WaterfallStepContext, order: Order) -> DialogTurnResult:
        looked_up_at, channel = self._clock(), step.context.activity.channel_id
        await self._customer_contexts.update(
            step.context, lambda c: c.remember_order(order.order_number, looked_up_at, channel)
        )
        now = customer_now(step.context.activity, self._clock)
        answer = replies.order_status(order, now)
        if await self._may_offer_updates(step.context, order):
            answer = replies.offering_updates(answer)
            number = order.order_number
            await self._customer_contexts.update(step.context, lambda c: c.offered_updates(number))
            await self._updates_offer.set(step.context, number)
        await send_answer(step.context, "orderStatus", answer)
        return await step.end_dialog()

    async def _may_offer_updates(self, turn_context: TurnContext, order: Order) -> bool:
        """Once per order, while something can still happen to it."""
        if self._updates is None or self._updates_offer is None or is_final(order.status):
            return False
        context = await self._customer_contexts.get(turn_context)
        return (
            order.order_number not in context.updates_offered
            and context.subscription(Topic.ORDER, order.order_number) is None
        )

    async def taken_offer(self, turn_context: TurnContext) -> str | None:
        """The order whose updates the bot's last answer offered, if the customer's message
        accepts them ("Keep me posted", "yes please"). The offer lasts one message."""
        if self._updates_offer is None:
            return None
        number = await self._updates_offer.get(turn_context)
        if number is None:
            return None
        await self._updates_offer.set(turn_context, None)
        return number if ACCEPTS_UPDATES.fullmatch(turn_context.activity.text or "") else None

    async def _subscribe(self, step: WaterfallStepContext, number: str) -> DialogTurnResult:
        customer_id = turn_customer_id(step.context) or ""
        if self._updates is None or not await self._updates.follow_order(customer_id, number):
            await send_reply(step.context, replies.UPDATES_UNAVAILABLE)
            return await step.end_dialog()
        channel, now = step.context.activity.channel_id, self._clock()
        await self._customer_contexts.update(
            step.context, lambda c: c.subscribe(Topic.ORDER, number, now, channel)
        )
        await send_reply(step.context, replies.SUBSCRIBED)
        return await step.end_dialog()

    async def _check_proof(self, step: WaterfallStepContext) -> DialogTurnResult:
        """The order's email or postcode, asked for before its details are shown."""
        order_number = step.values[_PROVING]
        try:  # looked up again: the order's email and postcode are never kept in state
            order = await self._orders.get_order(order_number)
        except (OrderNotFound, OrderServiceUnavailable):
            await send_reply(step.context, replies.ORDER_SYSTEM_DOWN)
            return await step.end_dialog()
        if not order.proven_by(step.context.activity.text or ""):
            await self._record_miss(step.context)
            await send_reply(step.context, replies.ORDER_PROOF_REFUSED)
            return await step.end_dialog()
        await self._customer_contexts.update(step.context, lambda c: c.verify_order(order_number))
        return await self._answer(step, order)

    async def _lookups_paused(self, turn_context: TurnContext) -> bool:
        now = self._clock()
        context = await self._customer_contexts.get(turn_context)
        return (
            context.order_misses_within(now, ORDER_MISS_WINDOW) >= MAX_ORDER_MISSES
            or len(await self._misses_here(turn_context, now)) >= MAX_ORDER_MISSES
        )

    async def _record_miss(self, turn_context: TurnContext) -> None:
        now = self._clock()
        await self._customer_contexts.update(
            turn_context, lambda c: c.record_order_miss(now, ORDER_MISS_WINDOW)
        )
        recent = await self._misses_here(turn_context, now)
        await self._conversation_misses.set(turn_context, [*recent, now.isoformat()])

    async def _misses_here(self, turn_context: TurnContext, now: datetime) -> list[str]:
        """This conversation's misses within the window (ISO times)."""
        misses = await self._conversation_misses.get(turn_context, list)
        return [at for at in misses if now - datetime.fromisoformat(at) < ORDER_MISS_WINDOW]

    async def follow_up_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        offered = step.values.get(_OFFERED)
        if offered == _ASKED_PROOF:
            return await self._check_proof(step)
        if offered == _OFFERED_RETRY:
            written = find_order_number(step.context.activity.text or "")
            if written:
                return await step.replace_dialog(WaterfallDialog.__name__, {ORDER_NUMBER: written})
            if step.result is True:
                return await step.replace_dialog(
                    WaterfallDialog.__name__, {SKIP_RECENT_ORDER: True}
                )
        elif offered == _OFFERED_PERSON and step.result is True:
            reason = Reason.FAILED_TRIES.value
            return await step.replace_dialog(HandoffDialog.__name__, {REASON: reason})
        await send_reply(step.context, replies.NOT_TRYING_AGAIN)
        return await step.end_dialog()

    async def on_end_dialog(
        self, context: TurnContext, instance: DialogInstance, reason: DialogReason
    ) -> None:
        # However the task ends (answered, declined, cancelled), it is no longer open.
        await self._customer_contexts.update(context, lambda c: c.end_task())
        await super().on_end_dialog(context, instance, reason)

    @staticmethod
    async def order_number_validator(prompt: PromptValidatorContext) -> bool:
        if prompt.recognized.succeeded and find_order_number(prompt.recognized.value):
            return True
        # number_of_attempts counts the failed answers before this one.
        return prompt.options.number_of_attempts + 1 >= MAX_ORDER_NUMBER_TRIES

    @staticmethod
    async def yes_no_or_order_number_validator(prompt: PromptValidatorContext) -> bool:
        return prompt.recognized.succeeded or bool(
            find_order_number(prompt.context.activity.text or "")
        )
