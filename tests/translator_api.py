"""A stand-in for Azure AI Translator's v3.0 text API, with its documented request and
response shapes (learn.microsoft.com/azure/ai-services/translator/reference/v3-0-translate):

    POST /translate?api-version=3.0&to=es&to=en[&from=it]
    headers Ocp-Apim-Subscription-Key, Ocp-Apim-Subscription-Region (regional resources)
    body    [{"Text": "..."}]   (the client library writes "text"; both are accepted)
    200     [{"detectedLanguage": {"language": "it", "score": 1.0},   # without from=
              "translations": [{"text": "...", "to": "es"}, ...]}]
    4xx/5xx {"error": {"code": 401000, "message": "..."}}

It translates from a phrasebook; a text it does not know comes back marked with the
target language ("[it] Sorry, ..."), so a test sees that it went through. Failures on
demand, request by request: "slow" (past any deadline), a status code.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

KEY = "translator-test-key-0123456789"
REGION = "westeurope"

# (text, language it is in) -> {language: translation}
PHRASEBOOK: dict[tuple[str, str], dict[str, str]] = {
    ("dov'è il mio ordine 123456?", "it"): {
        "es": "¿dónde está mi pedido 123456?",
        "en": "where is my order 123456?",
    },
    ("vorrei parlare con una persona", "it"): {
        "es": "me gustaría hablar con una persona",
        "en": "I would like to talk to a person",
    },
    ("grazie mille", "it"): {"es": "muchas gracias", "en": "thank you very much"},
    ("il pacco è arrivato rotto", "it"): {
        "es": "el paquete llegó roto",
        "en": "the parcel arrived broken",
    },
    ("waar is mijn bestelling 123456?", "nl"): {
        "de": "Wo ist meine Bestellung 123456?",
        "en": "where is my order 123456?",
    },
}


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class StandIn:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        # What the next requests get: "ok" (an answer), "slow" (none in time), a status code.
        self.failures: list[int | str] = []

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/translate", self._translate)
        return app

    async def _translate(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"query": request.query, "headers": request.headers, "body": body})
        failure = self.failures.pop(0) if self.failures else "ok"
        if failure == "slow":
            await asyncio.sleep(30)
        if failure != "ok":
            return _error(int(failure), int(failure) * 1000, "The service failed.")
        if request.query.get("api-version") != "3.0":
            return _error(400, 400021, "The API version parameter is missing or invalid.")
        if request.headers.get("Ocp-Apim-Subscription-Key") != KEY:
            return _error(401, 401000, "The request is not authorized: credentials missing.")
        if request.headers.get("Ocp-Apim-Subscription-Region") != REGION:
            return _error(401, 401015, "The region is missing or invalid.")
        targets = request.query.getall("to", [])
        if not targets:
            return _error(400, 400036, "The target language is not valid.")
        if not isinstance(body, list) or not body or len(body) > 1000:
            return _error(400, 400074, "The body of the request is not valid JSON.")
        source = request.query.get("from")
        results = []
        for item in body:
            text = item.get("Text", item.get("text")) if isinstance(item, dict) else None
            if not isinstance(text, str):
                return _error(400, 400074, "The body of the request is not valid JSON.")
            language, known = self._look_up(text, source)
            result: dict = {
                "translations": [
                    {"text": known.get(to) or (text if to == language else f"[{to}] {text}"),
                     "to": to}
                    for to in targets
                ]
            }  # fmt: skip
            if source is None:
                result["detectedLanguage"] = {"language": language, "score": 1.0}
            results.append(result)
        return web.json_response(results)

    @staticmethod
    def _look_up(text: str, source: str | None) -> tuple[str, dict[str, str]]:
        for (phrase, language), translations in PHRASEBOOK.items():
            if phrase == text.strip().lower() and source in (None, language):
                return language, translations
        return source or "en", {}
