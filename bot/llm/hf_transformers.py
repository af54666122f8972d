"""Hugging Face causal LMs through transformers: the backend for GPUs and for non-GGUF checkpoints.

``model`` is a local model folder (``config.json`` + weights + tokenizer), a hub id that is already in
the local cache (tests and the app run offline), a ``.gguf`` file (transformers dequantizes it to
torch tensors; slow to load for large files -- DESIGN.md measured 52 s for the 0.5B), or a packaged
model name from :data:`bot.llm.models.PACKAGED_MODELS` (loaded through its GGUF).

With a CUDA GPU the model is placed by accelerate (``device_map="auto"``) in bf16; otherwise it runs on
the CPU in float32. ``generate`` runs in a worker thread and feeds a ``TextIteratorStreamer`` that
:meth:`TransformersLLM.stream` reads; a ``StoppingCriteria`` checks the cancel event after every token,
so Stop ends the generation itself, not just the reading of it. Stop strings are cut in the text
(:class:`~bot.llm.base.StopStringFilter`) and end generation the same way.

transformers has no grammar-constrained decoding, so ``config.json_schema`` is best effort here:
``supports_json_schema`` is False and the caller's prompt must ask for JSON and validate it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from bot.llm.base import (
    LLM,
    GenerationConfig,
    LLMError,
    StopStringFilter,
    is_cancelled,
)
from bot.llm.models import packaged_model, resolve_gguf

log = logging.getLogger(__name__)

_LOCK_POLL_S = 0.05


@dataclass
class _Loaded:
    model: Any  # a transformers PreTrainedModel
    tokenizer: Any
    lock: threading.Lock
    load_s: float


_models: dict[tuple, _Loaded] = {}
_models_lock = threading.Lock()


def _source(model: str, cache_dir: Path | None) -> tuple[str, str | None]:
    """``(path or hub id, gguf file name or None)`` for ``model``."""
    if packaged_model(model) is not None or model.lower().endswith(".gguf"):
        gguf = resolve_gguf(model, cache_dir)
        return str(gguf.parent), gguf.name
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise LLMError(f"model folder {path} has no config.json; is it a Hugging Face model folder?")
        return str(path), None
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1:
        raise LLMError(f"model folder {path} does not exist")
    return model, None  # a hub id, which must already be in the local cache when offline


def _load(model: str, cache_dir: Path | None, device: str, dtype: str | None) -> _Loaded:
    source, gguf_file = _source(model, cache_dir)
    key = (source, gguf_file, device, dtype)
    with _models_lock:
        loaded = _models.get(key)
        if loaded is not None:
            return loaded
        if gguf_file is not None:
            try:
                import gguf  # noqa: F401
            except ImportError as exc:
                raise LLMError(
                    f"loading {gguf_file} with transformers needs: pip install gguf==0.19.0"
                ) from exc
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device.startswith("cuda") and not torch.cuda.is_available():
            raise LLMError(f"device {device!r} was asked for {model}, but torch sees no CUDA GPU")
        if dtype is None:
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype, None)
        if not (torch_dtype == "auto" or isinstance(torch_dtype, torch.dtype)):
            raise LLMError(f"dtype {dtype!r} is not a torch dtype (try bfloat16, float16, float32 or auto)")
        kwargs: dict[str, Any] = {"dtype": torch_dtype}
        if gguf_file is not None:
            kwargs["gguf_file"] = gguf_file
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            kwargs["local_files_only"] = True
        start = time.perf_counter()
        try:
            tok_kwargs = {k: v for k, v in kwargs.items() if k != "dtype"}
            tokenizer = AutoTokenizer.from_pretrained(source, **tok_kwargs)
            if device.startswith("cuda"):  # accelerate places the layers: all GPUs, or the one named
                device_map = "auto" if device == "cuda" else {"": device}
                lm = AutoModelForCausalLM.from_pretrained(source, device_map=device_map, **kwargs)
            else:
                lm = AutoModelForCausalLM.from_pretrained(source, **kwargs).to(device)
        except (OSError, ValueError) as exc:
            where = f"{source}/{gguf_file}" if gguf_file else source
            raise LLMError(f"transformers could not load {where}: {exc}") from exc
        lm.eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        loaded = _Loaded(lm, tokenizer, threading.Lock(), time.perf_counter() - start)
        log.info("loaded %s on %s (%s) in %.1f s", model, lm.device, dtype, loaded.load_s)
        _models[key] = loaded
        return loaded


class _EventStop(StoppingCriteria):
    """A ``StoppingCriteria``: end generation once any of the events is set."""

    def __init__(self, *events: threading.Event | None) -> None:
        self.events = [e for e in events if e is not None]

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        done = any(e.is_set() for e in self.events)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class TransformersLLM(LLM):
    """A causal LM run by transformers; ``device`` is ``auto`` (GPU when present), ``cpu``, ``cuda``
    (accelerate spreads the model over all GPUs) or ``cuda:N``.

    ``dtype`` overrides the default (bf16 on GPU, float32 on CPU; ``"auto"`` keeps the checkpoint's).
    The model loads in the constructor, once per process for the same source, device and dtype.
    """

    supports_json_schema = False

    def __init__(
        self,
        model: str,
        *,
        cache_dir: Path | None = None,
        device: str = "auto",
        dtype: str | None = None,
    ) -> None:
        self.name = f"transformers:{model}"
        self._loaded = _load(model, cache_dir, device, dtype)

    @property
    def load_seconds(self) -> float:
        return self._loaded.load_s

    @property
    def device(self) -> str:
        return str(self._loaded.model.device)

    def _stream(
        self, wire: list[dict[str, str]], config: GenerationConfig, cancel: threading.Event | None
    ) -> Iterator[str]:
        loaded = self._loaded
        lock = loaded.lock
        while not lock.acquire(timeout=_LOCK_POLL_S):  # queue behind another stream, unless cancelled
            if is_cancelled(cancel):
                return
        try:
            if is_cancelled(cancel):
                return
            yield from self._generate(wire, config, cancel, loaded)
        finally:
            lock.release()

    def _generate(
        self,
        wire: list[dict[str, str]],
        config: GenerationConfig,
        cancel: threading.Event | None,
        loaded: _Loaded,
    ) -> Iterator[str]:

        tokenizer, lm = loaded.tokenizer, loaded.model
        try:
            inputs = tokenizer.apply_chat_template(
                wire, add_generation_prompt=True, return_tensors="pt", return_dict=True
            ).to(lm.device)
        except ValueError as exc:  # no chat template in the tokenizer
            raise LLMError(f"{self.name}: cannot build the chat prompt: {exc}") from exc
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop_generation = threading.Event()
        kwargs: dict[str, Any] = {
            **inputs,
            "max_new_tokens": config.max_tokens,
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_EventStop(cancel, stop_generation)]),
            "pad_token_id": tokenizer.pad_token_id,
        }
        if config.temperature > 0:
            kwargs.update(do_sample=True, temperature=config.temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if config.seed is not None:
            torch.manual_seed(config.seed)

        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    lm.generate(**kwargs)
            except Exception as exc:  # noqa: BLE001 - any failure is re-raised in the reading thread
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name=f"generate-{self.name}", daemon=True)
        stops = StopStringFilter(config.stop)
        worker.start()
        try:
            for text in streamer:
                out = stops.push(text)
                if out:
                    yield out
                if stops.stopped or is_cancelled(cancel):
                    break
            else:
                tail = stops.flush()
                if tail and not errors:
                    yield tail
        finally:
            stop_generation.set()  # also when the reader left early: never leave generate running
            worker.join()
        if errors:
            raise LLMError(f"{self.name}: generation failed: {errors[0]}") from errors[0]
