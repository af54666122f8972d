"""Vectors shipped with a bundled catalogue, so that its first ingest embeds (almost) nothing.

Embedding the 17,472 bundled films is most of a fresh machine's first start (about 260 texts/s with the
int8 ONNX MiniLM on two idle cores, half that while pip or anything else runs). The vectors depend
only on the model and the item's text, so they are computed once, stored beside the catalogue's
mapping as ``catalogues/vectors/<catalogue>.<model>.npz`` and looked up by a hash of the text at
ingest: an item whose text changed (a new mapping field, a catalogue update) is simply embedded as
usual. Rows are int8 with one scale each (cosine to the float vectors above 0.9999), about 400 bytes
an item.

Rebuild after changing the embedding model or the bundled catalogue's text::

    recbot ingest movies --write-seed-vectors
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SEED_DIR = Path(__file__).parent / "catalogues" / "vectors"
_KEY_BYTES = 12


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:_KEY_BYTES]


def seed_path(catalogue: str, model: str, folder: Path = SEED_DIR) -> Path:
    return folder / f"{catalogue}.{model}.npz"


@dataclass
class SeedVectors:
    """Shipped vectors of one catalogue for one embedding model, looked up by text."""

    model: str
    rows: dict[bytes, int]
    vectors: np.ndarray  # int8 (n, dim)
    scales: np.ndarray  # float32 (n,)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def lookup(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """``{position in texts: unit vector}`` for the texts that have a shipped vector."""
        found = {p: r for p, t in enumerate(texts) if (r := self.rows.get(text_key(t))) is not None}
        if not found:
            return {}
        rows = np.fromiter(found.values(), dtype=np.int64, count=len(found))
        vecs = self.vectors[rows].astype(np.float32) * self.scales[rows, None]
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return dict(zip(found, vecs, strict=True))


def load(catalogue: str, model: str, dim: int, folder: Path = SEED_DIR) -> SeedVectors | None:
    """The shipped vectors of ``catalogue`` for ``model`` with ``dim`` columns, or None."""
    path = seed_path(catalogue, model, folder)
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            keys, vectors, scales = data["keys"], data["vectors"], data["scales"]
    except (OSError, KeyError, ValueError) as exc:
        log.warning("ignoring unreadable shipped vectors %s: %s", path, exc)
        return None
    if vectors.ndim != 2 or vectors.shape[1] != dim or not len(keys) == len(vectors) == len(scales) \
            or keys.shape[1:] != (_KEY_BYTES,):
        log.warning("ignoring shipped vectors %s: shape %s does not fit a %d-d model", path, vectors.shape, dim)
        return None
    rows = {k.tobytes(): i for i, k in enumerate(keys)}
    return SeedVectors(model=model, rows=rows, vectors=vectors, scales=scales.astype(np.float32))


def write(catalogue: str, model: str, texts: Sequence[str], vectors: np.ndarray, folder: Path = SEED_DIR) -> Path:
    """Store ``vectors`` (rows aligned with ``texts``) as the shipped vectors of ``catalogue``."""
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
    keys, rows = [], []
    seen: set[bytes] = set()
    for text, vec in zip(texts, vectors, strict=True):
        key = text_key(text)
        if key not in seen:  # identical texts share one row
            seen.add(key)
            keys.append(key)
            rows.append(vec)
    mat = np.asarray(rows, dtype=np.float32)
    scales = np.maximum(np.abs(mat).max(axis=1), 1e-12) / 127.0
    quant = np.clip(np.rint(mat / scales[:, None]), -127, 127).astype(np.int8)
    folder.mkdir(parents=True, exist_ok=True)
    path = seed_path(catalogue, model, folder)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
    key_rows = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, _KEY_BYTES)
    np.savez_compressed(tmp, keys=key_rows, vectors=quant,
                        scales=scales.astype(np.float32))
    os.replace(tmp, path)
    log.info("wrote %d shipped vectors to %s (%.1f MB)", len(keys), path, path.stat().st_size / 1e6)
    return path
