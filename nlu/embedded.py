"""The embedded recogniser: trained at start from nlu/data, no network, no download.

Intents from the TF-IDF classifier (nlu/classifier.py), entities from nlu/entities.py.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from nlu.classifier import IntentClassifier
from nlu.entities import extract
from nlu.recognizer import Intent, Recognition
from nlu.training import TrainingData, load_training

log = logging.getLogger(__name__)

RUNNERS_UP = 3
_TRAINED: dict[str, EmbeddedRecognizer] = {}
_TRAINING = threading.Lock()


class EmbeddedRecognizer:
    def __init__(
        self,
        training: TrainingData,
        classifier: IntentClassifier,
    ) -> None:
        self._training = training
        self._classifier = classifier

    @classmethod
    def trained(cls, language: str = "en", cache_dir: Path | None = None) -> EmbeddedRecognizer:
        """Trained on the language's training file (or loaded from the cache); one per
        process and language (the tests build many apps)."""
        with _TRAINING:
            if language not in _TRAINED:
                _TRAINED[language] = cls._train(language, cache_dir)
            return _TRAINED[language]

    @classmethod
    def _train(cls, language: str, cache_dir: Path | None) -> EmbeddedRecognizer:
        started = time.monotonic()
        training = load_training(language)
        classifier = IntentClassifier.cached(
            [e.text for e in training.examples],
            [e.intent for e in training.examples],
            training.fingerprint,
            cache_dir,
        )
        log.info("language understanding ready: %d examples, %d intents, %.1f s",
                 len(training.examples), len(classifier.intents),
                 time.monotonic() - started)  # fmt: skip
        return cls(training, classifier)

    @classmethod
    def from_model(cls, model_dir: Path, language: str = "en") -> EmbeddedRecognizer:
        return cls(load_training(language), IntentClassifier.load(model_dir))

    @property
    def language(self) -> str:
        return self._training.language

    def rank(self, text: str) -> list[tuple[str, float]]:
        return self._classifier.rank(text)

    async def recognize(
        self,
        text: str,
        *,
        now: datetime | None = None,
        time_zone: str | None = None,
        language: str | None = None,  # one recogniser a language: see nlu/multilingual.py
    ) -> Recognition:
        return self.recognize_now(text, now=now, time_zone=time_zone)

    def recognize_now(
        self, text: str, *, now: datetime | None = None, time_zone: str | None = None
    ) -> Recognition:
        text = (text or "").strip()
        ranked = self._classifier.rank(text) if text else [(Intent.NONE.value, 1.0)]
        return self.recognition(text, ranked, now=now, time_zone=time_zone)

    def recognition(
        self,
        text: str,
        ranked: list[tuple[str, float]],
        *,
        now: datetime | None = None,
        time_zone: str | None = None,
    ) -> Recognition:
        """Intents ranked by any engine (this one, CLU), with this bot's entities."""
        entities = extract(
            text,
            self._training.devices,
            now=now or datetime.now(UTC),
            time_zone=time_zone or "UTC",
            language=self._training.language,
        )
        (top, confidence), rest = ranked[0], ranked[1 : 1 + RUNNERS_UP]
        return Recognition(
            intent_named(top),
            confidence,
            tuple((intent_named(name), score) for name, score in rest),
            entities,
            label=top,
        )


def intent_named(name: str) -> Intent:
    try:
        return Intent(name)
    except ValueError:  # a model trained on other labels (CLINC150): out of scope here
        return Intent.NONE
