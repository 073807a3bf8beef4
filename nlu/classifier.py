"""The intent classifier: TF-IDF of word and character n-grams, logistic regression, with
sentence embeddings as a second opinion when it is unsure.

Measured before choosing (README, "Language understanding"): TF-IDF is the fastest
candidate (about 0.4 ms a message) and, with character n-grams, robust to customers'
typos; it knows words, not meanings. A logistic regression over MiniLM sentence embeddings
(nlu/sentence_encoder.py) knows that "has my parcel shipped" and "where is my order" ask the
same, but costs about 10 ms. So the embeddings are consulted only when TF-IDF's best intent
is below CONSULT_BELOW, and the two opinions are averaged. A trained model is cached by the
training data's fingerprint and the models' settings, so a restart with the same data and
code does not train again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from nlu.sentence_encoder import shared_encoder
from nlu.training import TrainingDataError

log = logging.getLogger(__name__)

# Bumped when the features or the model change in a way their settings do not show (the
# settings themselves are part of a cached model's name: see `configuration`).
ENGINE_VERSION = "tfidf-lr+minilm-1"
# Below this TF-IDF confidence the sentence embeddings are asked too. On the bot's held-out
# messages 3 % are, on CLINC150's 7 %: the p95 latency stays that of TF-IDF alone.
CONSULT_BELOW = 0.4
# Words whose character n-grams are remembered (a few MB).
WORDS_REMEMBERED = 20_000


def _pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True
                ),
            ),
        ]
    )
    classifier = LogisticRegression(C=20.0, max_iter=3000)
    return Pipeline([("features", features), ("classifier", classifier)])


def _embedding_head() -> LogisticRegression:
    return LogisticRegression(C=10.0, max_iter=3000)


@lru_cache(maxsize=1)
def configuration() -> str:
    """A digest of every setting of the untrained models: a cached model trained with other
    settings (a tuning change in this file) is trained again, not reused."""
    return joblib.hash((_pipeline(), _embedding_head()))[:12]


class IntentClassifier:
    def __init__(self, pipeline: Pipeline, embedding_head: LogisticRegression | None) -> None:
        self._pipeline = pipeline
        self.intents: tuple[str, ...] = tuple(pipeline.classes_)
        self._score = _Scorer(pipeline)
        self._head = embedding_head
        self._encoder = shared_encoder() if embedding_head is not None else None

    @classmethod
    def train(cls, texts: Sequence[str], intents: Sequence[str]) -> IntentClassifier:
        pipeline = _pipeline()
        pipeline.fit(list(texts), list(intents))
        head = None
        encoder = shared_encoder()
        if encoder is not None:
            head = _embedding_head()
            head.fit(encoder.encode(list(texts)), list(intents))
        return cls(pipeline, head)

    @classmethod
    def cached(
        cls, texts: Sequence[str], intents: Sequence[str], fingerprint: str, cache_dir: Path | None
    ) -> IntentClassifier:
        """Trained on these examples, or loaded from `cache_dir` when they were seen before."""
        name = f"{ENGINE_VERSION}-{configuration()}-{fingerprint}.joblib"
        path = cache_dir / name if cache_dir else None
        if path is not None and path.is_file():
            try:
                return cls._from_saved(joblib.load(path))
            except Exception as error:  # a stale or damaged cache is rebuilt, never fatal
                log.warning("intent model cache %s unusable (%s): training", path, error)
        model = cls.train(texts, intents)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                joblib.dump(model._saved(), path)
            except OSError as error:
                log.warning("intent model not cached at %s: %s", path, error)
        return model

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self._saved(), directory / "model.joblib")

    @classmethod
    def load(cls, directory: Path) -> IntentClassifier:
        try:
            return cls._from_saved(joblib.load(directory / "model.joblib"))
        except Exception as error:  # unpickling a file that is not a model raises anything
            raise TrainingDataError(
                f"{directory}: not a model `python -m nlu train` wrote ({error})"
            ) from error

    def _saved(self) -> dict:
        return {"engine": ENGINE_VERSION, "pipeline": self._pipeline, "embeddingHead": self._head}

    @classmethod
    def _from_saved(cls, saved: dict) -> IntentClassifier:
        if not isinstance(saved, dict) or saved.get("engine") != ENGINE_VERSION:
            raise ValueError(f"not a {ENGINE_VERSION} model: train it again")
        return cls(saved["pipeline"], saved["embeddingHead"])

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every intent with its probability, most likely first."""
        return self.rank_many([text])[0]

    def rank_many(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """rank() for many texts, the unsure ones embedded in batches."""
        probabilities = [self._score(text) for text in texts]
        unsure = [i for i, p in enumerate(probabilities) if p.max() < CONSULT_BELOW]
        if unsure and self._encoder is not None and self._head is not None:
            vectors = self._encoder.encode([texts[i] for i in unsure])
            for i, second in zip(unsure, _probabilities(self._head, vectors), strict=True):
                probabilities[i] = (probabilities[i] + second) / 2
        return [
            sorted(zip(self.intents, p.tolist(), strict=True), key=lambda pair: -pair[1])
            for p in probabilities
        ]


def _probabilities(head: LogisticRegression, vectors: np.ndarray) -> np.ndarray:
    """predict_proba without sklearn's per-call checks (see _Scorer)."""
    scores = vectors @ head.coef_.T + head.intercept_
    if scores.shape[1] == 1:  # two intents: sklearn's binary form
        positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


class _Scorer:
    """predict_proba for one message, computed directly from the fitted vocabularies and
    weights: sklearn's per-call checks cost 3 ms a message, the arithmetic 0.2 ms (a test
    checks both give the same probabilities). Character n-grams never cross a word
    (`char_wb`), so each word's are looked up once and remembered: customers reuse words."""

    def __init__(self, pipeline: Pipeline) -> None:
        classifier = pipeline.named_steps["classifier"]
        self._coef = np.ascontiguousarray(classifier.coef_.T)  # features x intents
        self._intercept = classifier.intercept_
        self._vectorizers = []
        offset = 0
        for _, vectorizer in pipeline.named_steps["features"].transformer_list:
            terms = _terms(vectorizer.build_analyzer(), vectorizer.vocabulary_)
            if vectorizer.analyzer == "char_wb":
                terms = _word_by_word(lru_cache(maxsize=WORDS_REMEMBERED)(terms))
            self._vectorizers.append((terms, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)

    def __call__(self, text: str) -> np.ndarray:
        indices: list[int] = []
        values: list[float] = []
        for terms, idf, offset in self._vectorizers:
            counts: dict[int, int] = {}
            for index in terms(text):
                counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            found = np.fromiter(counts, dtype=np.int64, count=len(counts))
            weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=float))) * idf[found]
            weights /= np.sqrt(np.dot(weights, weights))
            indices.extend((found + offset).tolist())
            values.extend(weights.tolist())
        scores = self._intercept.copy()
        if indices:
            scores += np.asarray(values) @ self._coef[indices]
        if len(scores) == 1:  # two intents: sklearn's binary form
            probability = 1.0 / (1.0 + np.exp(-scores[0]))
            return np.array([1.0 - probability, probability])
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()


def _terms(analyze: Callable[[str], list[str]], vocabulary: dict[str, int]):
    """The vocabulary indices of a text's known terms."""

    def terms(text: str) -> tuple[int, ...]:
        return tuple(i for i in map(vocabulary.get, analyze(text)) if i is not None)

    return terms


def _word_by_word(terms: Callable[[str], tuple[int, ...]]):
    def text_terms(text: str) -> list[int]:
        return [index for word in text.split() for index in terms(word)]

    return text_terms
