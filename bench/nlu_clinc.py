"""The embedded intent classifier on CLINC150, beside the published results (make nlu-bench).

Trains the same engine as the bot (nlu/classifier.py) on CLINC150's training set, picks
the out-of-scope probability threshold on its validation set (the paper's "threshold"
method), and reports in-scope accuracy, out-of-scope recall and per-message latency on its
test set. `--per-intent N` trains on N examples per intent, `--evaluate-per-intent M`
validates and tests on M per intent, `--intents K` keeps the first K intents (a quick
run for CI).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path

from nlu.classifier import IntentClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "clinc150" / "data_full.json"
# The paper's Table 2 (Larson et al., 2019): in-scope accuracy / out-of-scope recall, %.
PUBLISHED = {
    "Dialogflow (oos as a class)": (91.7, 14.0),
    "Rasa (oos as a class)": (91.5, 45.3),
    "MLP on USE (oos as a class)": (93.5, 47.4),
    "BERT (threshold)": (96.2, 52.3),
}


def _subset(rows: list[list[str]], per_intent: int | None) -> list[list[str]]:
    if per_intent is None:
        return rows
    by_intent: dict[str, list[list[str]]] = defaultdict(list)
    for row in rows:
        by_intent[row[1]].append(row)
    chosen = []
    for intent_rows in by_intent.values():
        chosen.extend(random.Random(0).sample(intent_rows, min(per_intent, len(intent_rows))))
    return chosen


def run(
    data_file: Path,
    per_intent: int | None,
    evaluate_per_intent: int | None = None,
    intents: int | None = None,
) -> dict:
    if not data_file.is_file():
        raise SystemExit(
            f"no CLINC150 at {data_file}: the shared data folder sits beside the repository "
            "(../shared/data/clinc150), or pass --data"
        )
    data = json.loads(data_file.read_text(encoding="utf-8"))
    if intents is not None:  # the first N intents (alphabetically) and out of scope
        kept = sorted({intent for _, intent in data["train"]})[:intents]
        for split in ("train", "val", "test"):
            data[split] = [row for row in data[split] if row[1] in kept]
    train = _subset(data["train"], per_intent)
    for split in ("val", "test"):
        data[split] = _subset(data[split], evaluate_per_intent)
    if evaluate_per_intent is not None:  # out of scope is one intent, ten times as large
        for split in ("oos_val", "oos_test"):
            data[split] = random.Random(0).sample(
                data[split], min(10 * evaluate_per_intent, len(data[split]))
            )
    started = time.perf_counter()
    model = IntentClassifier.train([t for t, _ in train], [i for _, i in train])
    training_seconds = time.perf_counter() - started

    def tops(texts: list[str]) -> list[tuple[str, float]]:
        return [ranked[0] for ranked in model.rank_many(texts)]

    # The threshold that catches the most out-of-scope validation messages for at most half
    # a point of in-scope validation accuracy (the paper's "threshold" method picks it on
    # the validation set too).
    val_tops = tops([t for t, _ in data["val"]])
    val = [(i, *top) for (_, i), top in zip(data["val"], val_tops, strict=True)]
    oos_val = [c for _, c in tops([t for t, _ in data["oos_val"]])]

    def accuracy(threshold: float) -> float:
        return sum(p == i and c >= threshold for i, p, c in val) / len(val)

    candidates = [x / 100 for x in range(100)]
    best = max(accuracy(t) for t in candidates)
    threshold = max(t for t in candidates if accuracy(t) >= best - 0.005)
    validation_recall = sum(c < threshold for c in oos_val) / len(oos_val)

    def top(text: str) -> tuple[str, float]:
        return model.rank(text)[0]

    latencies, correct = [], 0
    for text, intent in data["test"]:
        started = time.perf_counter()
        predicted, confidence = top(text)
        latencies.append((time.perf_counter() - started) * 1000)
        correct += confidence >= threshold and predicted == intent
    caught = sum(c < threshold for _, c in tops([t for t, _ in data["oos_test"]]))
    latencies.sort()
    return {
        "trainedOn": len(train),
        "trainingSeconds": round(training_seconds, 1),
        "testedOn": len(data["test"]),
        "threshold": threshold,
        "validationOutOfScopeRecall": round(100 * validation_recall, 1),
        "inScopeAccuracy": round(100 * correct / len(data["test"]), 1),
        "outOfScopeRecall": round(100 * caught / len(data["oos_test"]), 1),
        "latencyMs": {"p50": round(latencies[len(latencies) // 2], 3),
                      "p95": round(latencies[int(len(latencies) * 0.95)], 3)},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--per-intent", type=int, help="train on this many examples per intent")
    parser.add_argument("--evaluate-per-intent", type=int,
                        help="validate and test on this many messages per intent")  # fmt: skip
    parser.add_argument("--intents", type=int, help="only the first N of the 150 intents")
    parser.add_argument("--out", help="write the result as JSON here")
    arguments = parser.parse_args()
    result = run(Path(arguments.data), arguments.per_intent, arguments.evaluate_per_intent,
                 arguments.intents)  # fmt: skip
    print(f"CLINC150, trained on {result['trainedOn']} messages in {result['trainingSeconds']} s")
    print(f"{'system':34} {'in-scope %':>10} {'oos recall %':>12}")
    print(f"{'ours (TF-IDF + MiniLM, threshold)':34} {result['inScopeAccuracy']:>10} "
          f"{result['outOfScopeRecall']:>12}")  # fmt: skip
    for name, (accuracy, recall) in PUBLISHED.items():
        print(f"{name:34} {accuracy:>10} {recall:>12}")
    print(f"latency per message: p50 {result['latencyMs']['p50']} ms, "
          f"p95 {result['latencyMs']['p95']} ms (threshold {result['threshold']})")  # fmt: skip
    if arguments.out:
        Path(arguments.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
