"""The house rules of the code base (issue 14), checked on the real source tree.

- no module over 400 lines in ``bot/``, ``retrieval/``, ``prompts/``, ``eval/``;
- no import cycle between modules of those packages;
- ``retrieval/`` and ``prompts/`` import nothing of ``bot/`` or ``eval/``, directly or through another module;
- the faces live in ``bot.faces`` (API, page, CLI, integrations); neither the dialogue core (the rest of ``bot``)
  nor ``eval/`` imports them;
- the faces never reach into a service's ``.store`` or ``.engine``: they talk to ``ChatService``.

The import graph is built by grimp (the engine behind import-linter) from the files as they are; an
import inside a function or under ``TYPE_CHECKING`` counts like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "retrieval", "prompts", "eval")
MAX_LINES = 400
FACES = ("bot.faces.api", "bot.faces.ui", "bot.faces.cli", "bot.faces.commands", "bot.faces.integrations")
ENTRY_POINTS = {"bot.__main__"}  # `python -m bot` starts the command line
SERVICE_INSIDES = ("store", "engine")  # what a face must not reach through
# `<name>.store` / `<name>.engine` that are not a service's insides, with why.
NOT_A_SERVICE = {
    "settings.store": "the [store] section of bot.settings.Settings",
    "services.engine": "the engine factory function of the module bot.services",
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (REPO / package).rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _chains(graph: grimp.ImportGraph, importer: str, imported: str) -> list[str]:
    if importer not in graph.modules or imported not in graph.modules:
        return []
    return [" -> ".join(chain) for chain in
            sorted(graph.find_shortest_chains(importer=importer, imported=imported, as_packages=True))]


def test_the_graph_holds_every_package(graph: grimp.ImportGraph) -> None:
    """The rules below mean something only if grimp read the tree: every file is a module of the graph."""
    on_disk = {_module_name(p) for package in PACKAGES for p in _modules(package)}
    assert on_disk - set(graph.modules) == set()
    assert len(on_disk) > 100


def _too_long(paths: list[Path]) -> dict[str, int]:
    """The files of ``paths`` over :data:`MAX_LINES` lines, with their line counts."""
    counts = {}
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            counts[str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name] = sum(1 for _ in fh)
    return {name: n for name, n in counts.items() if n > MAX_LINES}


def _cycles(graph: grimp.ImportGraph) -> list[str]:
    """One line per import cycle between modules (``a -> b -> a``), each cycle once."""
    cycles: dict[frozenset[str], str] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported != importer and graph.chain_exists(importer=imported, imported=importer):
                back = graph.find_shortest_chain(importer=imported, imported=importer) or ()
                cycle = (importer, *back)
                cycles.setdefault(frozenset(cycle), " -> ".join(cycle))
    return sorted(cycles.values())


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_400_lines(package: str) -> None:
    too_long = _too_long(_modules(package))
    assert not too_long, f"split by job into modules of at most {MAX_LINES} lines:\n" + "\n".join(
        f"{name}: {n} lines" for name, n in too_long.items())


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("lower", ["retrieval", "prompts"])
@pytest.mark.parametrize("upper", ["bot", "eval"])
def test_retrieval_and_prompts_import_nothing_of_bot_or_eval(graph: grimp.ImportGraph, lower: str,
                                                              upper: str) -> None:
    chains = _chains(graph, lower, upper)
    assert not chains, f"{lower} must not import {upper}:\n" + "\n".join(chains)


@pytest.mark.parametrize("face", FACES)
def test_eval_imports_no_face(graph: grimp.ImportGraph, face: str) -> None:
    assert face in graph.modules, f"{face} moved: update FACES in this test"
    chains = _chains(graph, "eval", face)
    assert not chains, f"eval must not import the face {face}:\n" + "\n".join(chains)


def test_the_dialogue_core_imports_no_face(graph: grimp.ImportGraph) -> None:
    users = graph.find_downstream_modules("bot.faces", as_package=True)
    core = sorted(m for m in users if m.startswith("bot.") and not m.startswith("bot.faces")
                  and m not in ENTRY_POINTS)
    assert not core, "the dialogue core must not import the faces:\n" + "\n".join(
        " -> ".join(c) for m in core for c in sorted(graph.find_shortest_chains(m, "bot.faces", as_packages=True))[:1])


def _reach_throughs(path: Path, root: Path = REPO) -> list[str]:
    """``x.store`` / ``x.engine`` read anywhere in ``path``, as ``file:line: source``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in SERVICE_INSIDES:
            text = ast.unparse(node)
            if text.removeprefix("self.") not in NOT_A_SERVICE:
                found.append((node.lineno, f"{path.relative_to(root)}:{node.lineno}: {text}"))
    return [hit for _, hit in sorted(found)]


def test_the_checks_catch_what_they_guard_against(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each finder above, on a small package that breaks every rule, reports the break."""
    pkg = tmp_path / "archprobe"
    (pkg / "faces").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "core.py": "from archprobe import state\n",
        "state.py": "def later():\n    from archprobe import core\n",  # a cycle through a lazy import
        "low.py": "import archprobe.middle\n",
        "middle.py": "from archprobe.faces import page\n",  # low -> middle -> faces.page: indirect
        "faces/__init__.py": "",
        "faces/page.py": "def show(service, settings):\n    service.engine.catalogue.get('x')\n"
                         "    ctrl = service\n    ctrl.store.messages('s')\n    return settings.store.mode\n",
        "long.py": "x = 1\n" * (MAX_LINES + 1),
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = grimp.build_graph("archprobe", cache_dir=None)

    assert _cycles(probe) == ["archprobe.core -> archprobe.state -> archprobe.core"]
    assert _chains(probe, "archprobe.low", "archprobe.faces") == [
        "archprobe.low -> archprobe.middle -> archprobe.faces.page"]
    assert _chains(probe, "archprobe.faces", "archprobe.low") == []
    assert _too_long(sorted(pkg.rglob("*.py"))) == {"long.py": MAX_LINES + 1}
    hits = [hit.split(": ", 1)[1] for hit in _reach_throughs(pkg / "faces" / "page.py", root=tmp_path)]
    assert hits == ["service.engine", "ctrl.store"]  # settings.store is the settings' section


@pytest.mark.parametrize("face", FACES)
def test_faces_do_not_reach_into_the_service(face: str) -> None:
    base = REPO.joinpath(*face.split("."))
    files = _modules(str(base.relative_to(REPO))) if base.is_dir() else [base.with_suffix(".py")]
    assert files and all(f.is_file() for f in files), f"{face} moved: update FACES in this test"
    hits = [hit for f in files for hit in _reach_throughs(f)]
    assert not hits, "use ChatService's own methods instead of its store / engine:\n" + "\n".join(hits)
