"""The main router: finds what the customer wants and starts that task.

Help, cancel, asking for a person, linking another channel and deleting one's
data interrupt any step of any task.
"""

from __future__ import annotations

import re
from datetime import timedelta

from botbuilder.core import StatePropertyAccessor, TurnContext
from botbuilder.dialogs import (
    ComponentDialog,
    DialogContext,
    DialogTurnResult,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)

from analytics.events import EventName
from channels import replies
from channels.replies import CANCEL_IT, MOVE_IT
from customers.context import CustomerContext, Notified, Subscription, Topic
from customers.identity import IdentityService
from customers.link_codes import CODE_LIFETIME
from dialogs.booking_dialog import BOOKING, DEVICE, TEXT, WHEN, BookingDialog
from dialogs.change_appointment_dialog import ChangeAppointmentDialog
from dialogs.clock import Clock, customer_now
from dialogs.frustration import FrustrationWatch, OfferAnswer
from dialogs.handoff_dialog import REASON, HandoffDialog
from dialogs.order_status_dialog import (
    FOLLOW,
    ORDER_NUMBER,
    SKIP_RECENT_ORDER,
    OrderStatusDialog,
)
from dialogs.reply_activity import (
    PICKED_CHOICE,
    confirm_prompt,
    prompt_options,
    send_reply,
    understanding_language,
)
from dialogs.troubleshooting_dialog import TroubleshootingDialog
from dialogs.turn_events import ForgetEvents, forget_analytics, record
from handoff.cases import Reason
from nlu.policy import Decision, Thresholds, decide
from nlu.recognizer import Intent, Recognition, Recognizer
from nlu.review import ReviewQueue, mask, says_not_what_i_meant
from services.orders import find_order_number
from state.customer_context import CustomerContextAccessor, turn_customer_id
from state.turn_state import discard_changes

# A reply this soon after an update is taken as about it ("when will it arrive?").
UPDATE_ANSWERED_WITHIN = timedelta(hours=24)
_REMINDER = re.compile(r"\bremind", re.IGNORECASE)

# Options a caller may pass to start with something other than the customer's words.
RESUME = "resume"
INTENT = "intent"
# Straight to talking to a person (or leaving a note), with the HandoffDialog's options.
HANDOFF = "handoff"

_CONFIRM_PROMPT = "MainDialog.confirm"
_BOOKING_SO_FAR = "bookingSoFar"
_ASKED = "asked"
ORDER_NUMBER_OPTIONS = "orderStatusOptions"
# A choice the bot offered, picked: no guessing needed.
_CHOSEN = {choice.lower(): Intent(intent) for intent, (_, choice) in replies.TASK_NAMES.items()}
# The intents that are answered without starting a task.
_ANSWERS = {
    Intent.GOODBYE: replies.GOODBYE,
    Intent.THANKS: replies.YOU_ARE_WELCOME,
    Intent.HELP: replies.HELP,
    Intent.CANCEL: replies.NOTHING_TO_CANCEL,
}
# With an order number in the message, these still answer about the order ("your service is
# terrible, where is order 123456??").
_ABOUT_AN_ORDER = frozenset(
    {Intent.ORDER_STATUS, Intent.HUMAN_HANDOFF, Intent.GREETING, Intent.THANKS, Intent.NONE}
)
# The intents that start a task, by the task's name in analytics.
_TASKS = frozenset({Intent.ORDER_STATUS.value, Intent.BOOK_APPOINTMENT.value,
                    Intent.CHANGE_APPOINTMENT.value, Intent.TROUBLESHOOT.value})  # fmt: skip
_INTERRUPTIONS = (
    Intent.HELP,
    Intent.CANCEL,
    Intent.HUMAN_HANDOFF,
    Intent.LINK_CHANNEL,
    Intent.DELETE_DATA,
)


# A hand-off the customer took when the bot offered one to them upset.
FRUSTRATED = Reason.FRUSTRATION.value


class MainDialog(ComponentDialog):
    def __init__(
        self,
        recognizer: Recognizer,
        order_status_dialog: OrderStatusDialog,
        booking_dialog: BookingDialog,
        change_appointment_dialog: ChangeAppointmentDialog,
        troubleshooting_dialog: TroubleshootingDialog,
        handoff_dialog: HandoffDialog,
        customer_contexts: CustomerContextAccessor,
        identity: IdentityService,
        clock: Clock,
        not_understood: StatePropertyAccessor,
        thresholds: Thresholds | None = None,
        review: ReviewQueue | None = None,
        last_message: StatePropertyAccessor | None = None,
        forget_events: ForgetEvents | None = None,
        frustration: FrustrationWatch | None = None,
    ) -> None:
        super().__init__(MainDialog.__name__)
        # None: upset customers are not looked for.
        self._frustration = frustration
        self._forget_events = forget_events
        self._recognizer = recognizer
        # Messages not understood in a row, in this conversation: the second offers a person.
        self._not_understood = not_understood
        self._thresholds = thresholds or Thresholds()
        # Messages not understood, and the one before "that's not what I meant", for review.
        self._review = review
        self._last_message = last_message
        self._customer_contexts = customer_contexts
        self._identity = identity
        self._clock = clock
        self._order_status = order_status_dialog
        self._order_status_id = order_status_dialog.id
        self._booking_id = booking_dialog.id
        self._change_appointment_id = change_appointment_dialog.id
        self._troubleshooting_id = troubleshooting_dialog.id
        self._handoff_id = handoff_dialog.id

        self.add_dialog(order_status_dialog)
        self.add_dialog(booking_dialog)
        self.add_dialog(change_appointment_dialog)
        self.add_dialog(troubleshooting_dialog)
        self.add_dialog(handoff_dialog)
        self.add_dialog(confirm_prompt(_CONFIRM_PROMPT))
        self.add_dialog(
            WaterfallDialog(WaterfallDialog.__name__, [self.route_step, self.confirmed_step])
        )
        self.initial_dialog_id = WaterfallDialog.__name__

    async def route_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        options = step.options or {}
        if options.get(RESUME):
            return await self._offer_resume(step)
        if options.get(HANDOFF):
            return await step.begin_dialog(self._handoff_id, options[HANDOFF])
        if options.get(INTENT):
            recognition = Recognition(Intent(options[INTENT]))
        else:
            if says_not_what_i_meant(step.context.activity.text or ""):
                record(step.context, EventName.MISUNDERSTOOD)
                return await self._not_what_was_meant(step)
            following = await self._order_status.taken_offer(step.context)
            if following is not None:
                return await step.begin_dialog(self._order_status_id, {FOLLOW: following})
            answered = await self._answer_to_update(step)
            if answered is not None:
                return answered
            answer = self._frustration and await self._frustration.answer(step.context)
            if answer == OfferAnswer.PERSON:
                return await step.begin_dialog(self._handoff_id, {REASON: FRUSTRATED})
            if answer == OfferAnswer.DECLINED:
                await send_reply(step.context, replies.NOT_RESUMING)
                return await step.end_dialog()
            recognition = await self._recognize(step.context)
        decision, intents = decide(recognition, self._thresholds)
        await self._remember_message(step.context, recognition)
        if recognition.order_number and (
            recognition.intent in _ABOUT_AN_ORDER
            and (decision != Decision.ACT or recognition.intent != Intent.NONE)
        ):
            decision, intents = Decision.ACT, (Intent.ORDER_STATUS,)
        if (
            not options.get(INTENT)
            and self._frustration is not None
            and await self._frustration.offered(step.context, None)
            and not (decision == Decision.ACT and intents[0].value in _TASKS)
        ):
            # Only the offer: the message asked for no task ("this is useless").
            await self._not_understood.set(step.context, 0)
            return await step.end_dialog()
        if decision == Decision.UNSURE:
            record(step.context, EventName.NOT_UNDERSTOOD,
                   guess=recognition.label or recognition.intent.value,
                   confidence=round(recognition.confidence, 3))  # fmt: skip
            await self._keep_for_review(step.context, step.context.activity.text or "",
                                        recognition.label or recognition.intent.value,
                                        recognition.confidence, "notUnderstood")  # fmt: skip
            return await self._not_understood_step(step)
        await self._not_understood.set(step.context, 0)
        if decision == Decision.ASK:
            first, second = intents
            await send_reply(step.context, replies.which_task(first.value, second.value))
            return await step.end_dialog()
        intent = intents[0]
        record(step.context, EventName.INTENT_RECOGNIZED, intent=intent.value,
               confidence=round(recognition.confidence, 3))  # fmt: skip
        if intent.value in _TASKS:
            record(step.context, EventName.TASK_STARTED, intent.value)
        await self._remember_intent(step.context, intent)
        match intent:
            case Intent.ORDER_STATUS:
                # "When will it arrive?" just after an update is about that order.
                order_number = recognition.order_number or await self._updated_order(step)
                return await step.begin_dialog(self._order_status_id, {ORDER_NUMBER: order_number})
            case Intent.BOOK_APPOINTMENT:
                return await step.begin_dialog(
                    self._booking_id,
                    {TEXT: step.context.activity.text or "", WHEN: recognition.entities.when,
                     DEVICE: recognition.entities.device},
                )  # fmt: skip
            case Intent.TROUBLESHOOT:
                return await step.begin_dialog(
                    self._troubleshooting_id,
                    {TEXT: step.context.activity.text or "", DEVICE: recognition.entities.device},
                )
            case Intent.CHANGE_APPOINTMENT:
                return await step.begin_dialog(
                    self._change_appointment_id,
                    {TEXT: step.context.activity.text or "", WHEN: recognition.entities.when},
                )
            case Intent.DELETE_DATA:
                step.values[_ASKED] = Intent.DELETE_DATA.value
                return await step.prompt(
                    _CONFIRM_PROMPT, prompt_options(step.context, replies.CONFIRM_DELETE)
                )
            case Intent.LINK_CHANNEL:
                await self._give_link_code(step.context)
            case Intent.HUMAN_HANDOFF:
                return await step.begin_dialog(self._handoff_id)
            case Intent.STOP_UPDATES:
                await self._stop_updates(step.context, recognition)
            case Intent.GREETING:
                # "Hi" on a new channel: offer what the customer began elsewhere, if anything.
                return await self._offer_resume(step)
            case _ if intent in _ANSWERS:
                await send_reply(step.context, _ANSWERS[intent])
            case _:
                await send_reply(step.context, replies.NOT_UNDERSTOOD)
        return await step.end_dialog()

    async def _answer_to_update(self, step: WaterfallStepContext) -> DialogTurnResult | None:
        """A choice offered by the last update ("Move it" on a reminder), answered."""
        notified = await self._recent_update(step)
        text = (step.context.activity.text or "").strip()
        if notified is None:
            return None
        said = replies.picked_choice(text, notified.choices, notified.shown).lower()
        if said not in {choice.lower() for choice in notified.choices}:
            return None
        if notified.topic == Topic.APPOINTMENT and said in (MOVE_IT.lower(), CANCEL_IT.lower()):
            record(step.context, EventName.TASK_STARTED, Intent.CHANGE_APPOINTMENT.value)
            action = "move" if said == MOVE_IT.lower() else "cancel"
            return await step.begin_dialog(
                self._change_appointment_id, {TEXT: f"{action} {notified.subject}", WHEN: None}
            )
        await send_reply(step.context, replies.KEPT)
        return await step.end_dialog()

    async def _recent_update(self, step: WaterfallStepContext) -> Notified | None:
        notified = (await self._customer_contexts.get(step.context)).notified
        if notified is None or self._clock() - notified.at > UPDATE_ANSWERED_WITHIN:
            return None
        return notified

    async def _updated_order(self, step: WaterfallStepContext) -> str | None:
        notified = await self._recent_update(step)
        return notified.subject if notified and notified.topic == Topic.ORDER else None

    async def _stop_updates(self, turn_context: TurnContext, recognition: Recognition) -> None:
        # "stop updates about 123456": that order; "no reminder": reminders; else everything.
        order_number = recognition.order_number
        reminders = not order_number and _REMINDER.search(turn_context.activity.text or "")
        topic = Topic.APPOINTMENT if reminders else None
        stopped: list[Subscription] = []

        def stop(context: CustomerContext) -> None:
            stopped[:] = context.unsubscribe(topic, order_number)

        await self._customer_contexts.update(turn_context, stop)
        if not stopped:
            await send_reply(turn_context, replies.NO_UPDATES_TO_STOP)
            return
        named = [
            replies.order_subject(s.subject)
            if s.topic == Topic.ORDER
            else replies.appointment_subject(s.subject)
            for s in stopped
        ]
        await send_reply(turn_context, replies.updates_stopped(named))

    async def _remember_message(self, turn_context: TurnContext, recognition: Recognition) -> None:
        # The masked words, in case the next message is "that's not what I meant"; never
        # from a channel whose messages may not be kept.
        channel = turn_context.activity.channel_id
        if (
            self._last_message is None
            or self._review is None
            or not self._review.keeps_from(channel)
            or not recognition.label
        ):
            return
        await self._last_message.set(
            turn_context,
            {"text": mask(turn_context.activity.text or "")[:500],
             "guess": recognition.label, "confidence": round(recognition.confidence, 4)},
        )  # fmt: skip

    async def _keep_for_review(
        self, turn_context: TurnContext, text: str, guess: str, confidence: float, reason: str
    ) -> None:
        if self._review is not None:
            channel = turn_context.activity.channel_id
            await self._review.keep(text, guess, confidence, reason, channel, self._clock())

    async def _not_what_was_meant(self, step: WaterfallStepContext) -> DialogTurnResult:
        last = await self._last_message.get(step.context, dict) if self._last_message else {}
        if last:
            await self._keep_for_review(step.context, last["text"], last["guess"],
                                        last["confidence"], "notWhatIMeant")  # fmt: skip
        await send_reply(step.context, replies.NOT_WHAT_YOU_MEANT)
        return await step.end_dialog()

    async def _not_understood_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        missed = await self._not_understood.get(step.context, lambda: 0) + 1
        if missed >= 2:
            await send_reply(step.context, replies.NOT_UNDERSTOOD_AGAIN)
            missed = 0
        else:
            await send_reply(step.context, replies.NOT_UNDERSTOOD)
        await self._not_understood.set(step.context, missed)
        return await step.end_dialog()

    async def _recognize(self, turn_context: TurnContext) -> Recognition:
        text = (turn_context.activity.text or "").strip()
        chosen = _CHOSEN.get(text.lower())
        if chosen is not None:
            return Recognition(chosen)
        activity = turn_context.activity
        picked = turn_context.turn_state.get(PICKED_CHOICE)
        return await self._recognizer.recognize(
            text,
            now=customer_now(activity, self._clock),
            time_zone=activity.local_timezone or None,
            # A choice the bot offered arrives as the dialogs know it: in English.
            language="en" if picked else understanding_language(turn_context),
        )

    async def confirmed_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        asked = step.values.get(_ASKED)
        if asked == Intent.DELETE_DATA.value:
            if step.result is True:
                context = await self._customer_contexts.get(step.context)
                await self._identity.forget(turn_customer_id(step.context) or "")
                forget_analytics(step.context, context, self._forget_events)
                discard_changes(step.context)
                await send_reply(step.context, replies.DATA_DELETED)
            else:
                await send_reply(step.context, replies.NOT_DELETED)
        elif asked == RESUME:
            if step.result is True and _BOOKING_SO_FAR in step.values:
                return await step.replace_dialog(
                    self._booking_id, {BOOKING: step.values[_BOOKING_SO_FAR]}
                )
            if step.result is True:
                return await step.replace_dialog(
                    self._order_status_id, step.values.get(ORDER_NUMBER_OPTIONS)
                )
            # Declined: not offered again on the next greeting.
            declined_at = self._clock()
            await self._customer_contexts.update(
                step.context, lambda c: c.decline_resume(declined_at)
            )
            await send_reply(step.context, replies.NOT_RESUMING)
        return await step.end_dialog()

    async def on_continue_dialog(self, inner_dc: DialogContext) -> DialogTurnResult:
        interrupted = await self._interrupt(inner_dc)
        return interrupted or await super().on_continue_dialog(inner_dc)

    async def _interrupt(self, inner_dc: DialogContext) -> DialogTurnResult | None:
        upset = await self._upset(inner_dc)
        if upset is not None:
            return upset
        if inner_dc.context.turn_state.get(PICKED_CHOICE):
            return None
        # A number in the message answers the question asked ("no, it's 654321"): nothing
        # to understand, so no model (or CLU call) for the commonest answer of all.
        if find_order_number((inner_dc.context.activity.text or "").strip()):
            return None
        recognition = await self._recognize(inner_dc.context)
        if (
            recognition.intent not in _INTERRUPTIONS
            or recognition.confidence < self._thresholds.interruption
        ):
            return None
        context = inner_dc.context
        await self._remember_intent(context, recognition.intent)
        if recognition.intent in (Intent.HELP, Intent.LINK_CHANNEL):
            if recognition.intent == Intent.HELP:
                await send_reply(context, replies.HELP)
            else:
                await self._give_link_code(context)
            await inner_dc.reprompt_dialog()
            return DialogTurnResult(DialogTurnStatus.Waiting)
        stopped = (await self._customer_contexts.get(context)).open_task
        await inner_dc.cancel_all_dialogs()
        if stopped is not None:
            record(context, EventName.TASK_CANCELLED, stopped.what)
        await self._customer_contexts.update(context, lambda c: c.end_task())
        if recognition.intent == Intent.DELETE_DATA:
            return await inner_dc.begin_dialog(self.initial_dialog_id, {INTENT: "deleteData"})
        if recognition.intent == Intent.CANCEL:
            await send_reply(context, replies.CANCELLED)
        else:
            return await inner_dc.begin_dialog(self._handoff_id)
        return DialogTurnResult(DialogTurnStatus.Complete)

    async def _upset(self, inner_dc: DialogContext) -> DialogTurnResult | None:
        """In the middle of a task: the answer to an offer of a person, or an offer to make
        (the task's question stays open)."""
        if self._frustration is None:
            return None
        context = inner_dc.context
        answer = await self._frustration.answer(context)
        if answer == OfferAnswer.DECLINED:
            await inner_dc.reprompt_dialog()
            return DialogTurnResult(DialogTurnStatus.Waiting)
        if answer == OfferAnswer.PERSON:
            stopped = (await self._customer_contexts.get(context)).open_task
            await inner_dc.cancel_all_dialogs()
            if stopped is not None:
                record(context, EventName.TASK_CANCELLED, stopped.what)
            await self._customer_contexts.update(context, lambda c: c.end_task())
            return await inner_dc.begin_dialog(self._handoff_id, {REASON: FRUSTRATED})
        if context.turn_state.get(PICKED_CHOICE):
            return None
        task = (await self._customer_contexts.get(context)).open_task
        if await self._frustration.offered(context, task.what if task else None):
            return DialogTurnResult(DialogTurnStatus.Waiting)
        return None

    async def _offer_resume(self, step: WaterfallStepContext) -> DialogTurnResult:
        context = await self._customer_contexts.get(step.context)
        task = context.resumable_elsewhere(step.context.activity.channel_id, self._clock())
        if task is None:
            await send_reply(step.context, replies.WELCOME)
            return await step.end_dialog()
        step.values[_ASKED] = RESUME
        if task.what == Intent.BOOK_APPOINTMENT.value:
            step.values[_BOOKING_SO_FAR] = task.details
            offer = replies.resume_booking(
                task.channel, task.details.get("kind"), task.details.get(WHEN)
            )
            return await step.prompt(_CONFIRM_PROMPT, prompt_options(step.context, offer))
        order_number = context.last_order_number if task.step == "answered" else None
        step.values[ORDER_NUMBER_OPTIONS] = (
            {ORDER_NUMBER: order_number} if order_number else {SKIP_RECENT_ORDER: True}
        )
        return await step.prompt(
            _CONFIRM_PROMPT,
            prompt_options(step.context, replies.resume_offer(task.channel, order_number)),
        )

    async def _give_link_code(self, turn_context: TurnContext) -> None:
        code = await self._identity.issue_code(turn_customer_id(turn_context) or "")
        await self._customer_contexts.update(turn_context, lambda c: c.issued_link_code(code))
        minutes = int(CODE_LIFETIME.total_seconds() // 60)
        await send_reply(turn_context, replies.link_code_issued(code, minutes))

    async def _remember_intent(self, turn_context: TurnContext, intent: Intent) -> None:
        if intent in (Intent.NONE, Intent.GREETING, Intent.GOODBYE, Intent.THANKS):
            return
        name = intent.value
        await self._customer_contexts.update(turn_context, lambda c: c.remember_intent(name))
