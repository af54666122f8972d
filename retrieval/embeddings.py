"""Sentence embeddings for the catalogue and for queries: the packaged all-MiniLM-L6-v2, two ways.

Both backends turn text into 384-d, L2-normalised float32 vectors (mean pooling over the last hidden
state, as the sentence-transformers model card prescribes), so a dot product is a cosine similarity.

``TorchEmbedder``
    The reference: ``sentence_transformers.SentenceTransformer`` on the CPU, fp32.

``OnnxEmbedder`` (the default)
    The same BERT exported once to ONNX, its weight matrices quantised to int8 with
    ``onnxruntime.quantization.quantize_dynamic``, run by onnxruntime with the ``tokenizers`` fast
    tokenizer and mean pooling in numpy. About twice the torch throughput on catalogue texts and several
    times faster on a single query, at a cosine of about 0.993 to the fp32 vectors. It never imports
    torch once its cache is built.

The quantisation recipe (``OnnxRecipe``; cosines to the fp32 graph, measured on 400 ReDial catalogue
texts of ~41 words and 200 chat utterances):

* per-channel int8 weights, ``MatMul`` only (the embedding ``Gather`` stays fp32, hence a 60 MB file):
  per-tensor weights reach a mean cosine of only 0.95 (min 0.80 on queries), per-channel 0.992;
* the first layer's feed-forward output projection stays fp32: its GELU activations have outliers that
  a per-tensor dynamic activation scale handles badly; keeping that one matrix (of 36) in fp32 lifts
  the catalogue mean to 0.9935 (min 0.982; queries mean 0.991) for a few % of speed. Inputs of one or
  two word-pieces ("ok", "?", "") drift most, to a cosine of about 0.97;
* on CPUs without VNNI (no ``avx512_vnni`` / ``avx_vnni`` / ``amx_int8``), weights use 7 bits
  (``reduce_range``), as onnxruntime advises, so the u8s8 kernels of AVX2/AVX-512F cannot saturate.
  That variant is named ``.../onnx-int8r7`` so an index built with one is never mixed with the other.

The export is cached under ``cache_dir / "onnx" / <key>`` where the key hashes the model files and the
recipe. It is built in a temporary folder beside it and renamed into place only when complete and
verified (the fp32 graph must reproduce torch, the int8 graph must stay close to it), so an interrupted
export never leaves a half-written cache; a damaged one (missing manifest, size or sha256 mismatch, a
graph onnxruntime refuses) is detected on load and rebuilt.

Dynamic quantisation computes activation scales per batch, so with ``OnnxEmbedder`` a text's vector
depends slightly on the texts batched with it (mean cosine 0.993, worst seen 0.976, between a text
embedded alone and in a batch): the same size of noise as int8 itself, not a bias.

``Embedder.name`` goes into index manifests: a different name means different vectors, and the index
must be re-embedded.

Measured on 2 quiet cores of a Xeon with AVX512-VNNI (2,000 ReDial catalogue texts of ~48 words,
300 chat utterances of ~13 words): ONNX int8 205-220 texts/s, query p50 2.0 ms (1.3 ms for 2-6 word
queries); torch 95-105 texts/s, query p50 7.7 ms. ONNX batches of 16-64 texts are equally fast, 128 and
more are slower (cache pressure). Mean cosine to torch on those texts 0.993 (min 0.985).

Thread safety: ``embed_query`` and ``embed`` may be called from several threads at once. An
onnxruntime session's ``run`` is thread-safe, and the ``tokenizers.Tokenizer`` here is configured once
and never mutated afterwards (only encode, a shared borrow). ``TorchEmbedder`` serialises calls with a
lock: the transformers fast tokenizer re-sets truncation and padding on every call, which raises
"Already borrowed" under concurrency.
"""

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from retrieval.backend.onnx_export import (
    ONNX_RECIPE,
    OnnxCacheEntry,
    OnnxModelCache,
    OnnxRecipe,
    default_recipe,
)
from retrieval.embedding_model import (
    MODEL_PACKAGE,
    MODEL_PACKAGE_VERSION,
    MODEL_SLUG,
    EmbeddingError,
    ModelPackageMissingError,
    Precision,
    _check_mean_pooling,
    _encodings_to_arrays,
    _hidden_size,
    _load_tokenizer,
    _max_seq_length,
    _no_weight_loading_bar,
    _run_pooled,
    _session,
    available_cores,
    cpu_has_int8_dot_product,
    default_cache_dir,
    model_dir,
)

__all__ = [
    "MODEL_PACKAGE",
    "MODEL_PACKAGE_VERSION",
    "MODEL_SLUG",
    "ONNX_RECIPE",
    "Backend",
    "Embedder",
    "EmbeddingError",
    "ModelPackageMissingError",
    "OnnxCacheEntry",
    "OnnxEmbedder",
    "OnnxModelCache",
    "OnnxRecipe",
    "Precision",
    "TorchEmbedder",
    "available_cores",
    "cpu_has_int8_dot_product",
    "create_embedder",
    "default_cache_dir",
    "default_recipe",
    "model_dir",
]

logger = logging.getLogger(__name__)

Backend = Literal["torch", "onnx"]


@runtime_checkable
class Embedder(Protocol):
    """What the index and the retriever need from an embedding model.

    ``name`` identifies the vectors (model and backend) and is stored in index manifests; ``dim`` is
    the vector length. Every vector returned is float32 with unit L2 norm.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Embed many texts: an ``(len(texts), dim)`` float32 array, rows in input order."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one short text (a user query): a ``(dim,)`` float32 vector. Low-latency path."""
        ...


def _as_text_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("embed() takes a sequence of texts; use embed_query() for a single string")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    return items


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


# --------------------------------------------------------------------------------------------------
# Torch backend
# --------------------------------------------------------------------------------------------------


class TorchEmbedder:
    """The packaged model through sentence-transformers on the CPU (fp32): the reference vectors."""

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path or model_dir()
        from sentence_transformers import SentenceTransformer

        with _no_weight_loading_bar():
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._model.max_seq_length = _max_seq_length(path)
        self.dim: int = int(self._model.get_embedding_dimension() or _hidden_size(path))
        self.name: str = f"{MODEL_SLUG}/torch"
        self.max_length: int = self._model.max_seq_length
        # The transformers fast tokenizer mutates its Rust backend on every call: serialise calls.
        self._lock = threading.Lock()
        logger.info("loaded %s from %s", self.name, path)

    def embed(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        items = _as_text_list(texts)
        _check_batch_size(batch_size)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                items,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise TypeError(f"embed_query() takes a str, got {type(text).__name__}")
        with self._lock:
            vector = self._model.encode([text], convert_to_numpy=True, normalize_embeddings=True)[0]
        return np.ascontiguousarray(vector, dtype=np.float32)

    def __repr__(self) -> str:
        return f"TorchEmbedder(name={self.name!r}, dim={self.dim})"


# --------------------------------------------------------------------------------------------------
# ONNX backend
# --------------------------------------------------------------------------------------------------


class OnnxEmbedder:
    """The packaged model as an int8 ONNX graph under onnxruntime (CPU); see the module docstring.

    ``cache_dir`` defaults to ``default_cache_dir()``; ``threads`` to the cores this process may use;
    ``precision="fp32"`` skips quantisation (exact torch vectors, roughly torch speed).
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        model_path: Path | None = None,
        precision: Precision = "int8",
        threads: int | None = None,
    ) -> None:
        path = model_path or model_dir()
        _check_mean_pooling(path)
        self.max_length: int = _max_seq_length(path)
        self.dim: int = _hidden_size(path)
        self.recipe = default_recipe(precision)
        self.name: str = f"{MODEL_SLUG}/onnx-{self.recipe.variant}"
        self.threads: int = threads or available_cores()
        cache = OnnxModelCache(
            Path(cache_dir) if cache_dir else default_cache_dir(), path, self.recipe, self.max_length
        )
        self.cache_entry = cache.get_or_build()
        try:
            self._session = _session(self.cache_entry.model_file, self.threads)
        except Exception as exc:  # noqa: BLE001 -- intact bytes onnxruntime cannot load (another version)
            logger.warning("ONNX cache %s cannot be loaded (%s); rebuilding it", cache.directory, exc)
            self.cache_entry = cache.rebuild()
            self._session = _session(self.cache_entry.model_file, self.threads)
        self._tokenizer = _load_tokenizer(path, self.max_length)
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        logger.info("loaded %s from %s (%d threads)", self.name, self.cache_entry.model_file, self.threads)

    @property
    def model_file(self) -> Path:
        return self.cache_entry.model_file

    def embed(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Embed ``texts`` in batches of similar length (longest first), returning rows in input order.

        Sorting by character length before tokenising keeps padding low without tokenising the whole
        input up front (memory stays flat for large catalogues).
        """
        items = _as_text_list(texts)
        _check_batch_size(batch_size)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        if not items:
            return out
        order = np.argsort([-len(t) for t in items], kind="stable")
        bar = tqdm(total=len(items), disable=not progress, desc=f"embedding ({self.name})", unit="text")
        with bar:
            for start in range(0, len(items), batch_size):
                rows = order[start : start + batch_size]
                encodings = self._tokenizer.encode_batch([items[i] for i in rows])
                ids, mask = _encodings_to_arrays(encodings, self._pad_id)
                out[rows] = _run_pooled(self._session, ids, mask)
                bar.update(len(rows))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise TypeError(f"embed_query() takes a str, got {type(text).__name__}")
        ids, mask = _encodings_to_arrays([self._tokenizer.encode(text)], self._pad_id)
        return _run_pooled(self._session, ids, mask)[0]

    def __repr__(self) -> str:
        return f"OnnxEmbedder(name={self.name!r}, dim={self.dim}, model_file={str(self.model_file)!r})"


# --------------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------------


def create_embedder(backend: Backend = "onnx", cache_dir: Path | None = None) -> Embedder:
    """The embedder for ``backend``. ``"onnx"`` builds or reuses the int8 export under ``cache_dir``
    (default ``default_cache_dir()``) and falls back to ``"torch"``, with a logged warning, when the
    export cannot be made or loaded. A missing model package is always an error.
    """
    if backend == "torch":
        return TorchEmbedder()
    if backend != "onnx":
        raise ValueError(f"unknown embedding backend {backend!r}: expected 'torch' or 'onnx'")
    try:
        return OnnxEmbedder(cache_dir)
    except ModelPackageMissingError:
        raise
    except Exception as exc:  # any export or runtime failure degrades to the torch backend
        logger.warning(
            "ONNX embedder unavailable (%s: %s); falling back to the torch backend, whose vectors are named "
            "%r (indexes built with ONNX will be re-embedded)",
            type(exc).__name__,
            exc,
            f"{MODEL_SLUG}/torch",
            exc_info=logger.isEnabledFor(logging.DEBUG),
        )
        return TorchEmbedder()
