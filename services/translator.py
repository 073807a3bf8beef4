"""Azure AI Translator (the v3.0 text API), for customers who write in a language the bot
does not speak (TRANSLATOR_ENDPOINT).

    POST {endpoint}/translate?api-version=3.0&to=es&to=en[&from=it]
    [{"Text": "..."}, ...]  ->  [{"detectedLanguage": {"language": "it", "score": 1.0},
                                  "translations": [{"text": "...", "to": "es"}, ...]}, ...]

Through Microsoft's client (azure-ai-translation-text), signed in with a key (and the
resource's region), or with the bot's managed identity. Every call finishes inside the
deadline: the client's own retries are off, ours are bounded (one more attempt), and a
circuit breaker fails fast while Translator keeps failing. The caller's fallback is to
answer in English.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from azure.ai.translation.text.aio import TextTranslationClient
from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

log = logging.getLogger(__name__)

_CIRCUIT = "translator"
# Translator takes 50,000 characters a request; the bot sends a turn's few messages.
MAX_CHARACTERS = 10_000


class TranslatorUnavailable(Exception):
    """Translator did not answer in time, or answered something that is not a translation."""


@dataclass(frozen=True)
class Translation:
    # The text in each language asked for, in the order asked.
    texts: dict[str, str]
    # What Translator found the text's language to be, when it was not given.
    detected: str | None = None


class AzureTranslator:
    def __init__(
        self,
        endpoint: str,
        key: str | None = None,
        *,
        region: str = "",
        resource_id: str = "",
        managed_identity_client_id: str | None = None,
        deadline: float = 2.0,
        attempts: int = 2,
        breaker_threshold: int = 5,
        breaker_reset_after: float = 30.0,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._key = key
        self._region = region or None
        self._resource_id = resource_id or None
        self._managed_identity_client_id = managed_identity_client_id or None
        self.deadline = deadline
        self._attempts = attempts
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_reset_after
        )
        self._client: TextTranslationClient | None = None
        self._credential: AsyncTokenCredential | None = None

    async def open(self) -> None:
        # The client's own retries would wait past the deadline: ours are bounded instead.
        options = {"retry_total": 0, "connection_timeout": self.deadline}
        if self._key:
            self._client = TextTranslationClient(
                endpoint=self._endpoint,
                credential=AzureKeyCredential(self._key),
                region=self._region,
                **options,
            )
            return
        from azure.identity.aio import DefaultAzureCredential  # only without a key

        self._credential = DefaultAzureCredential(
            managed_identity_client_id=self._managed_identity_client_id
        )
        self._client = TextTranslationClient(
            endpoint=self._endpoint,
            credential=self._credential,
            region=self._region,
            resource_id=self._resource_id,
            **options,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._credential is not None:
            await self._credential.close()
            self._credential = None

    async def translate(
        self, texts: list[str], to: list[str], source: str | None = None
    ) -> list[Translation]:
        """Each text in each language of `to`; `source` unset: Translator detects it."""
        if sum(len(text) for text in texts) > MAX_CHARACTERS:
            raise TranslatorUnavailable(f"more than {MAX_CHARACTERS} characters to translate")
        try:
            async with asyncio.timeout(self.deadline):
                breaker = await self._breakers.get_breaker(_CIRCUIT)
                async with breaker:
                    return await self._with_retry(texts, to, source)
        except OpenedState:
            raise TranslatorUnavailable("circuit open: Translator keeps failing") from None
        except TimeoutError:
            raise TranslatorUnavailable("deadline passed") from None

    async def _with_retry(
        self, texts: list[str], to: list[str], source: str | None
    ) -> list[Translation]:
        last: Exception | None = None
        for _ in range(self._attempts):
            try:
                return await self._ask(texts, to, source)
            except TranslatorUnavailable as error:
                last = error
        raise TranslatorUnavailable(str(last))

    async def _ask(self, texts: list[str], to: list[str], source: str | None) -> list[Translation]:
        if self._client is None:
            raise TranslatorUnavailable("the Translator client is not open")
        try:
            items = await self._client.translate(body=texts, to_language=to, from_language=source)
        except AzureError as error:
            log.warning("Translator failed: %s", type(error).__name__)
            raise TranslatorUnavailable(type(error).__name__) from error
        try:
            found = [
                Translation(
                    {t.to: t.text for t in item.translations},
                    item.detected_language.language if item.detected_language else None,
                )
                for item in items
            ]
        except (AttributeError, TypeError, KeyError) as error:
            raise TranslatorUnavailable("not a translation") from error
        if len(found) != len(texts) or any(set(t.texts) != set(to) for t in found):
            raise TranslatorUnavailable("not a translation of every text")
        return found
