"""How well the recogniser understands messages it was not trained on (like `rasa test nlu`).

A report: accuracy, per-intent precision/recall/F1, a confusion matrix, entity scores
(found, missed, wrong; order numbers also counted where none should be), and every
misclassified message with the confidences the recogniser gave.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from nlu.classifier import IntentClassifier
from nlu.recognizer import Recognition
from nlu.training import Example

ENTITY_NAMES = ("orderNumber", "when", "device", "email", "phone")

Recognize = Callable[[str], Recognition]


def evaluate(examples: Sequence[Example], recognize: Recognize) -> dict[str, Any]:
    predictions, latencies, misclassified = [], [], []
    entity_counts = {name: {"expected": 0, "correct": 0, "wrong": 0, "spurious": 0}
                     for name in ENTITY_NAMES}  # fmt: skip
    for example in examples:
        started = time.perf_counter()
        recognition = recognize(example.text)
        latencies.append((time.perf_counter() - started) * 1000)
        predicted = recognition.label or recognition.intent.value
        predictions.append(predicted)
        if predicted != example.intent:
            misclassified.append(
                {
                    "text": example.text,
                    "intent": example.intent,
                    "predicted": predicted,
                    "confidence": round(recognition.confidence, 4),
                    "runnersUp": recognition.to_json()["runnersUp"],
                }
            )
        found = recognition.entities.to_json()
        for name in ENTITY_NAMES:
            counts, expected = entity_counts[name], example.entities.get(name)
            if expected is not None:
                counts["expected"] += 1
                counts["correct" if found.get(name) == expected else "wrong"] += 1
            elif found.get(name) is not None and name in ("orderNumber",):
                counts["spurious"] += 1  # e.g. a phone number taken for an order number
    labels = sorted({e.intent for e in examples} | set(predictions))
    truth = [e.intent for e in examples]
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predictions, labels=labels, zero_division=0
    )
    correct = sum(1 for t, p in zip(truth, predictions, strict=True) if t == p)
    latencies.sort()
    return {
        "messages": len(examples),
        "accuracy": round(correct / len(examples), 4) if examples else 0.0,
        "intents": {
            label: {
                "precision": round(p, 4),
                "recall": round(r, 4),
                "f1": round(f, 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion": {
            "labels": labels,
            "matrix": confusion_matrix(truth, predictions, labels=labels).tolist(),
        },
        "entities": {
            name: {
                **counts,
                "accuracy": round(counts["correct"] / counts["expected"], 4)
                if counts["expected"]
                else None,
            }
            for name, counts in entity_counts.items()
        },
        "latencyMs": {
            "p50": round(latencies[len(latencies) // 2], 3) if latencies else None,
            "p95": round(latencies[int(len(latencies) * 0.95)], 3) if latencies else None,
        },
        "misclassified": misclassified,
    }


def cross_validate(examples: Sequence[Example], folds: int = 5) -> dict[str, Any]:
    """k-fold cross-validation of the training data: each fold trained on the others."""
    texts = [e.text for e in examples]
    intents = [e.intent for e in examples]
    predicted: list[str] = [""] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(texts, intents):
        model = IntentClassifier.train([texts[i] for i in train], [intents[i] for i in train])
        for i in test:
            predicted[i] = model.rank(texts[i])[0][0]
    correct = sum(1 for t, p in zip(intents, predicted, strict=True) if t == p)
    return {
        "folds": folds,
        "messages": len(examples),
        "accuracy": round(correct / len(examples), 4),
    }


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """report.json, the confusion matrix as an image, and the misclassified messages."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.json", out / "errors.json"]
    written[0].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    written[1].write_text(
        json.dumps(report.get("misclassified", []), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    if "confusion" in report:
        written.append(_confusion_image(report["confusion"], out / "confusion.png"))
    return written


def _confusion_image(confusion: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = confusion["labels"], confusion["matrix"]
    size = max(6, len(labels) * 0.55)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("labelled")
    if len(labels) <= 30:
        for row, values in enumerate(matrix):
            for column, value in enumerate(values):
                if value:
                    axes.text(column, row, str(value), ha="center", va="center", fontsize=8)
    axes.set_title(f"Intents, {datetime.now():%Y-%m-%d %H:%M}")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
