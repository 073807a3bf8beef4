"""Customers who write in a language the bot does not speak, through Azure AI Translator
(TRANSLATOR_ENDPOINT): each message is translated into the nearest language the bot
understands (Italian into Spanish, Dutch into German, the rest into English) and into
English for the agents; the bot's replies are rendered in English and translated into the
customer's language as they are sent. When Translator fails or is too slow, the customer
is answered in English, with an apology.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes

from channels import replies
from dialogs.reply_activity import (
    FOR_AGENT,
    LANGUAGE,
    OFFERED_CHOICES,
    SHOWN_CHOICES,
    UNDERSTOOD_IN,
)
from nlu.language import SUPPORTED, LanguageChoice, LanguageDetector, nearest
from services.translator import AzureTranslator, TranslatorUnavailable

log = logging.getLogger(__name__)

# turn_state key: the turn's replies are translated into this language as they are sent.
TRANSLATED_TO = "translatedTo"
_APOLOGISED = "translationApologised"


@dataclass(frozen=True)
class TranslatedTurn:
    text: str  # what the bot understands: the message, or its translation
    language: str | None  # the customer's language as now known; None: as chosen


class TurnTranslation:
    def __init__(self, translator: AzureTranslator, detector: LanguageDetector) -> None:
        self._translator = translator
        self._detector = detector

    async def begin(
        self,
        turn_context: TurnContext,
        text: str,
        choice: LanguageChoice,
        before: str | None,
        *,
        picked: bool,
    ) -> TranslatedTurn:
        """Translates the message when it is in another language (or the customer's last
        one was and this one says too little to tell), and sets up the replies' translation."""
        if choice.source == "asked":
            return TranslatedTurn(text, None)
        foreign = None if picked else self._detector.foreign(text)
        carried_on = before not in (None, *SUPPORTED) and choice.source != "message"
        language = foreign or (before if carried_on else None)
        if language is None:
            return TranslatedTurn(text, None)
        turn_context.turn_state[LANGUAGE] = "en"
        if picked:  # a button the bot showed, translated: already understood
            self._translate_replies(turn_context, language)
            return TranslatedTurn(text, language)
        understood_in = nearest(language)
        targets = list(dict.fromkeys([understood_in, "en"]))
        try:
            [translation] = await self._translator.translate([text], targets)
        except TranslatorUnavailable as error:
            log.warning("a message could not be translated: %s", error)
            self._apologise(turn_context)
            return TranslatedTurn(text, language)
        detected = translation.detected or language
        if detected in SUPPORTED:  # one of ours after all: understood as it is
            turn_context.turn_state[LANGUAGE] = detected
            return TranslatedTurn(text, detected)
        if detected != language:
            understood_in = nearest(detected)
            if understood_in not in translation.texts:
                understood_in = "en"
        turn_context.turn_state[UNDERSTOOD_IN] = understood_in
        turn_context.turn_state[FOR_AGENT] = f"{text} [English: {translation.texts['en']}]"
        self._translate_replies(turn_context, detected)
        return TranslatedTurn(translation.texts[understood_in], detected)

    def _translate_replies(self, turn_context: TurnContext, language: str) -> None:
        turn_context.turn_state[TRANSLATED_TO] = language

        async def translating(context: TurnContext, activities: list[Activity], send):
            messages = [a for a in activities if a.type == ActivityTypes.message]
            pieces = _pieces(messages)
            if pieces:
                try:
                    done = await self._translator.translate(
                        [text for text, _ in pieces], [language], source="en"
                    )
                except TranslatorUnavailable as error:
                    log.warning("a reply could not be translated: %s", error)
                    _with_apology(context, activities)
                else:
                    titles = [t.texts[language] for t in done]
                    for (_, put), title in zip(pieces, titles, strict=True):
                        put(title)
                    _shown_as(context, messages)
            return await send()

        turn_context.on_send_activities(translating)

    def _apologise(self, turn_context: TurnContext) -> None:
        async def apologising(context: TurnContext, activities: list[Activity], send):
            _with_apology(context, activities)
            return await send()

        turn_context.on_send_activities(apologising)


def _pieces(messages: list[Activity]) -> list[tuple[str, object]]:
    """Each text a customer reads in these messages, with how to put its translation back:
    the message's words, and its buttons (a tapped button sends its translated label, which
    the bot matches to the choice it offered)."""
    pieces: list[tuple[str, object]] = []
    for message in messages:
        if message.text:
            pieces.append((message.text, lambda value, m=message: setattr(m, "text", value)))
        if message.suggested_actions:
            # The buttons are changed: never those of an activity kept elsewhere (a prompt's).
            message.suggested_actions = copy.deepcopy(message.suggested_actions)
        actions = message.suggested_actions.actions if message.suggested_actions else []
        for action in actions:
            if isinstance(action.title, str) and action.title:

                def put(value: str, a=action) -> None:
                    a.title = value
                    if a.value is not None:
                        a.value = value

                pieces.append((action.title, put))
    return pieces


def _shown_as(context: TurnContext, messages: list[Activity]) -> None:
    """The choices as the customer saw them, so that a tapped one is understood."""
    offered = context.turn_state.get(OFFERED_CHOICES) or []
    for message in messages:
        actions = message.suggested_actions.actions if message.suggested_actions else []
        if actions and len(actions) == len(offered):
            context.turn_state[SHOWN_CHOICES] = [action.title for action in actions]


def _with_apology(context: TurnContext, activities: list[Activity]) -> None:
    """Once a turn, before the replies: sorry, this is in English."""
    if context.turn_state.get(_APOLOGISED):
        return
    context.turn_state[_APOLOGISED] = True
    apology = TurnContext.apply_conversation_reference(
        Activity(type=ActivityTypes.message, text=replies.CANNOT_TRANSLATE.text),
        TurnContext.get_conversation_reference(context.activity),
    )
    activities.insert(0, apology)
