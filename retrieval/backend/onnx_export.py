"""Building the ONNX embedder: export all-MiniLM-L6-v2 to ONNX, quantise it to int8, and keep the
verified result in a cache (``OnnxModelCache``). Serving lives in ``retrieval.embeddings``; the
recipe and its measurements are described in that module's docstring.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.embedding_model import (
    _PROBE_TEXTS,
    MODEL_PACKAGE,
    MODEL_SLUG,
    EmbeddingError,
    Precision,
    _encodings_to_arrays,
    _load_tokenizer,
    _mean_pool_normalise,
    _no_weight_loading_bar,
    _run_pooled,
    _session,
    cpu_has_int8_dot_product,
)

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)


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
