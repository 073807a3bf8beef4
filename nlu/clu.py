"""Azure AI Language CLU (Conversational Language Understanding) as the recogniser (NLU=clu).

Intents come from the CLU deployment; entities from the bot's own extractors
(nlu/entities.py), so order numbers, dates, devices, emails and phones mean the same on
either engine. Each call has a deadline, one retry, and a circuit breaker; when CLU is
slow or down the embedded recogniser answers instead, so the customer never waits on it.

Request and answer (API 2023-04-01):
    POST {endpoint}/language/:analyze-conversations?api-version=2023-04-01
    {"kind": "Conversation", "analysisInput": {"conversationItem": {...}},
     "parameters": {"projectName", "deploymentName", "stringIndexType"}}
    -> {"kind": "ConversationResult", "result": {"prediction": {"topIntent", "intents": [
        {"category", "confidenceScore"}], "entities": [...]}}}
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from azure.ai.language.conversations.aio import ConversationAnalysisClient
from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from nlu.embedded import EmbeddedRecognizer
from nlu.recognizer import Recognition

log = logging.getLogger(__name__)

_CIRCUIT = "clu"


class CluUnavailable(Exception):
    """CLU did not answer in time, or answered something that is not a prediction."""


class CluRecognizer:
    def __init__(
        self,
        endpoint: str,
        key: str | None,
        project: str,
        deployment: str,
        fallback: EmbeddedRecognizer,
        *,
        managed_identity_client_id: str | None = None,
        deadline: float = 1.5,
        attempts: int = 2,
        breaker_threshold: int = 5,
        breaker_reset_after: float = 30.0,
    ) -> None:
        self._endpoint = endpoint
        self._key = key
        self._managed_identity_client_id = managed_identity_client_id or None
        self._project = project
        self._deployment = deployment
        self._fallback = fallback
        self._deadline = deadline
        self._attempts = attempts
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=breaker_threshold, default_ttl=breaker_reset_after
        )
        self._client: ConversationAnalysisClient | None = None
        self._credential: AsyncTokenCredential | None = None

    async def open(self) -> None:
        credential: AzureKeyCredential | AsyncTokenCredential
        if self._key:
            credential = AzureKeyCredential(self._key)
        else:
            from azure.identity.aio import DefaultAzureCredential  # only without a key

            self._credential = credential = DefaultAzureCredential(
                managed_identity_client_id=self._managed_identity_client_id
            )
        # The SDK's own retries would wait past the deadline: ours are bounded instead.
        self._client = ConversationAnalysisClient(
            self._endpoint, credential, retry_total=0, connection_timeout=self._deadline
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._credential is not None:
            await self._credential.close()
            self._credential = None

    async def recognize(
        self,
        text: str,
        *,
        now: datetime | None = None,
        time_zone: str | None = None,
        language: str | None = None,  # a CLU project answers in the languages it was given
    ) -> Recognition:
        text = (text or "").strip()
        if not text:
            return self._fallback.recognize_now(text, now=now, time_zone=time_zone)
        try:
            prediction = await self._predict(text)
        except (CluUnavailable, OpenedState) as error:
            log.warning("CLU unavailable (%s): the embedded recogniser answers", error or "open")
            return self._fallback.recognize_now(text, now=now, time_zone=time_zone)
        ranked = sorted(
            ((i["category"], float(i["confidenceScore"])) for i in prediction["intents"]),
            key=lambda pair: -pair[1],
        )
        return self._fallback.recognition(text, ranked, now=now, time_zone=time_zone)

    async def _predict(self, text: str) -> dict[str, Any]:
        breaker = await self._breakers.get_breaker(_CIRCUIT)
        async with breaker:
            last: Exception | None = None
            for _ in range(self._attempts):
                try:
                    return await self._ask(text)
                except CluUnavailable as error:
                    last = error
            raise CluUnavailable(str(last))

    async def _ask(self, text: str) -> dict[str, Any]:
        if self._client is None:
            raise CluUnavailable("the CLU client is not open")
        task = {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {
                    "id": "1",
                    "participantId": "customer",
                    "text": text,
                    "language": self._fallback.language,
                }
            },
            "parameters": {
                "projectName": self._project,
                "deploymentName": self._deployment,
                "stringIndexType": "UnicodeCodePoint",
            },
        }
        try:
            async with asyncio.timeout(self._deadline):
                answer = await self._client.analyze_conversation(task)
        except TimeoutError:
            raise CluUnavailable(f"no answer within {self._deadline} s") from None
        except AzureError as error:
            raise CluUnavailable(type(error).__name__) from None
        try:
            prediction = answer["result"]["prediction"]
            if not prediction["intents"]:
                raise KeyError("intents")
            return prediction
        except (KeyError, TypeError):
            raise CluUnavailable("the answer is not a conversation prediction") from None
