"""One recogniser per language the bot speaks, the turn's language choosing which.

Each language has its own training file (nlu/data/<language>/intents.yml) and so its own
model and entity words; a language without a recogniser falls back to the default one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from nlu.recognizer import Recognition, Recognizer


class MultilingualRecognizer:
    def __init__(self, recognizers: Mapping[str, Recognizer], default: str = "en") -> None:
        if default not in recognizers:
            raise ValueError(f"no recogniser for the default language {default!r}")
        self._recognizers = dict(recognizers)
        self._default = default

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._recognizers)

    async def recognize(
        self,
        text: str,
        *,
        now: datetime | None = None,
        time_zone: str | None = None,
        language: str | None = None,
    ) -> Recognition:
        recognizer = self._recognizers.get(language or self._default)
        recognizer = recognizer or self._recognizers[self._default]
        return await recognizer.recognize(text, now=now, time_zone=time_zone, language=language)
