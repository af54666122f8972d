"""A/B of two prompt-template versions: the user simulator and the ReDial turns, side by side.

    recbot eval templates default customer_service
    recbot eval templates default ./my_prompts/default_edited --dialogues 10 --turns-limit 20

A *template version* is a prompt set name (``default``, ``customer_service``, or a set saved by the
prompt lab under ``<data_dir>/prompts``) or a directory of template files (``NAME.yaml``, optionally a
``_set.yaml`` with ``extends``); a directory inherits what it does not define from ``default``. It is
copied when the run starts, so editing it during a run changes nothing.

For each version the same work is done with the same seeds:

1. the user simulator (:mod:`eval.simulator`) plays the first ``dialogues`` ReDial seekers that have a
   target, ``max_turns`` bot turns each, against the real engine built with that version's templates;
2. the first ``turns_limit`` ReDial recommender turns are scored as ``recbot`` in
   :mod:`eval.redial_runner` scores them with ``--llm`` (every seeker utterance read by the engine's
   LLM understanding, i.e. the version's ``understand`` template), in both views.

Then every metric is compared: A, B, B − A and a 95% paired bootstrap interval of B − A, resampling
dialogues (simulator) or turns (ReDial) — see :mod:`eval.ab_stats`. ``result.json`` keeps the
per-unit numbers, ``report.md`` the tables, ``conversations_A.jsonl`` / ``_B`` the transcripts.

Where the templates act: ``understand`` changes what the engine understands (every ReDial-turn
utterance; simulator messages only when the rules found nothing, or always with
``understanding="always"``); ``system`` + ``elicit`` word the questions the simulated seeker reads;
``recommend_item`` / ``recommend`` only word explanations, which never change the cards (they are
skipped unless asked for). The report lists which templates differ between A and B.

LLM calls are made with ``cache_prompt=False`` (reproducible llama.cpp output) and an identical request
— same messages and generation settings, deterministic decoding — is answered from memory the second
time (:class:`ReplayLLM`): templates that A and B share cost once, and their outputs are identical by
construction, so differences come from the templates alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bot.llm.base import LLM, ChatMessage, GenerationConfig
from bot.settings import Settings, get_settings
from eval.ab_stats import (
    Comparison,
    bootstrap_interval,
    comparison_cells,
    comparison_header,
    markdown_table,
    paired_bootstrap,
    text_table,
)
from eval.redial import (
    VIEWS,
    RedialCatalogue,
    RedialTurn,
    load_catalogue,
    read_dialogues,
    read_turns,
    truth_for_turn,
)
from eval.simulator import (
    Phrases,
    SeekerProfile,
    SimulationRun,
    Unit,
    read_seeker_mentions,
    select_profiles,
    simulate_many,
    write_conversations,
)
from eval.simulator import default_out_dir as simulator_out_dir
from prompts.loader import PromptError, PromptLibrary

log = logging.getLogger(__name__)

ENGINE_TEMPLATES: tuple[str, ...] = (
    "system",
    "understand",
    "elicit",
    "recommend_item",
    "recommend",
    "answer",
    "chitchat",
)
REDIAL_METRICS: tuple[str, ...] = ("R@1", "R@10", "R@50", "NDCG@10", "MRR")
Understanding = Literal["auto", "always", "never"]
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


class TemplatesABError(ValueError):
    """The comparison cannot run (unknown set, bad directory, missing data); the message says what to do."""


# --------------------------------------------------------------------------------------------------
# template versions


@dataclass(frozen=True)
class TemplateVersion:
    """A prompt set the engine can use: ``library.get(name, set=set_name)``."""

    label: str  # as given (a set name or a directory path)
    set_name: str
    library: PromptLibrary
    kind: Literal["set", "directory"]

    def fingerprint(self) -> dict[str, str]:
        """For each template the engine uses: where it comes from, its version and a digest of its text."""
        out = {}
        for name in ENGINE_TEMPLATES:
            t = self.library.get(name, set=self.set_name)
            digest = hashlib.sha256(t.source().encode("utf-8")).hexdigest()[:12]
            origin = self.label if t.set_name == self.set_name and self.kind == "directory" else t.set_name
            out[name] = f"{origin}/{t.path.name} v{t.version} sha256:{digest}"
        return out


def resolve_version(spec: str, library: PromptLibrary, workdir: Path, slot: str) -> TemplateVersion:
    """A set name known to ``library``, or a directory of template files (copied into ``workdir``)."""
    path = Path(spec).expanduser()
    looks_like_path = "/" in spec or spec.startswith((".", "~"))
    if path.is_dir() and (looks_like_path or spec not in library.sets()):
        files = [
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix in (".yaml", ".yml") and p.name != "_set.yaml"
        ]
        if not files:
            raise TemplatesABError(
                f"{path}: no template files (NAME.yaml) in this directory; a template version is "
                f"a prompt set name ({', '.join(library.sets())}) or a folder of templates"
            )
        set_name = f"ab-{slot}-{_SAFE.sub('-', path.resolve().name)}"
        root = workdir / f"root-{slot}"
        shutil.copytree(path, root / set_name)
        lib = PromptLibrary([*library.roots, root], write_root=workdir / f"unused-{slot}")
        version = TemplateVersion(spec, set_name, lib, "directory")
    elif spec in library.sets():
        version = TemplateVersion(spec, spec, library, "set")
    else:
        raise TemplatesABError(
            f"{spec!r} is neither a prompt set ({', '.join(library.sets())}) nor a directory "
            "of template files"
        )
    try:
        version.fingerprint()  # every template the engine needs loads and validates
    except PromptError as exc:
        raise TemplatesABError(f"template version {spec!r}: {exc}") from exc
    return version


def differing_templates(a: TemplateVersion, b: TemplateVersion) -> list[str]:
    fa, fb = a.fingerprint(), b.fingerprint()
    return [n for n in ENGINE_TEMPLATES if fa[n].split(" sha256:")[1] != fb[n].split(" sha256:")[1]]


# --------------------------------------------------------------------------------------------------
# the LLM


class ReplayLLM(LLM):
    """Wraps an LLM; an identical deterministic request is answered from memory.

    A request is replayed only when decoding is deterministic (temperature 0, or a fixed seed) and the
    first answer was read to its end (a stream closed early is not stored).
    """

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_json_schema = inner.supports_json_schema
        self._memo: dict[str, str] = {}
        self._lock = threading.Lock()
        self.calls = 0
        self.replayed = 0

    @staticmethod
    def _key(messages: Sequence[ChatMessage], config: GenerationConfig) -> str | None:
        if config.temperature > 0 and config.seed is None:
            return None
        payload = {
            "m": [[m.role, m.content] for m in messages],
            "t": config.max_tokens,
            "T": config.temperature,
            "s": list(config.stop),
            "seed": config.seed,
            "schema": config.json_schema,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()

    def stream(
        self, messages: Sequence[ChatMessage], config: GenerationConfig, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        key = self._key(messages, config)
        with self._lock:
            self.calls += 1
            cached = self._memo.get(key) if key is not None else None
            if cached is not None:
                self.replayed += 1
        if cached is not None:
            if cached:
                yield cached
            return
        pieces: list[str] = []
        for piece in self.inner.stream(messages, config, cancel):
            pieces.append(piece)
            yield piece
        if key is not None and not (cancel is not None and cancel.is_set()):
            with self._lock:
                self._memo[key] = "".join(pieces)


def evaluation_llm(settings: Settings) -> LLM:
    """The configured model; llama.cpp with ``cache_prompt=False`` so that its answers are reproducible."""
    from bot.llm.factory import create_llm, create_llm_from_settings

    if settings.llm.backend == "llamacpp":
        return create_llm(
            "llamacpp",
            settings.llm.model,
            cache_dir=settings.cache_dir,
            n_threads=settings.llm.n_threads,
            cache_prompt=False,
        )
    return create_llm_from_settings(settings.llm, settings.cache_dir)


# --------------------------------------------------------------------------------------------------
# one version


@dataclass
class VersionRun:
    """Everything measured for one template version."""

    version: TemplateVersion
    simulation: SimulationRun
    redial_units: dict[str, list[Unit]]
    redial_seconds: float
    utterances_read: int


def _engine(
    version: TemplateVersion,
    snapshot,
    understander,
    llm: LLM,
    settings: Settings,
    *,
    k: int,
    understanding: Understanding,
    seed: int,
    for_simulation: bool,
):
    from bot import services
    from bot.engine import ConversationEngine, EngineConfig
    from eval.systems import eval_retrieval_config
    from retrieval.retriever import Retriever

    base = services.retrieval_config(settings)
    # the simulator meets the product's retrieval (MMR on); the ReDial turns are scored as `eval redial` does
    config = base if for_simulation else eval_retrieval_config(base)
    engine_config = EngineConfig(
        k=k,
        prompt_set=version.set_name,
        llm_understanding=understanding,
        temperature=settings.llm.temperature,
        max_tokens=settings.llm.max_tokens,
        seed=seed,
    )
    return ConversationEngine(
        Retriever(snapshot, services.embedder(settings), config),
        llm,
        version.library,
        engine_config,
        understander=understander,
    )


def redial_turn_units(
    engine,
    understander,
    turns: Sequence[RedialTurn],
    catalogue: RedialCatalogue,
    *,
    progress: bool = True,
    desc: str = "redial turns",
) -> tuple[dict[str, list[Unit]], int]:
    """Per turn and view, (Σ metric over the turn's rec items, rec items) for each ReDial metric; the
    ``recbot`` system of :mod:`eval.systems` with the engine's LLM understanding (``always``)."""
    from tqdm.auto import tqdm

    from eval.metrics import item_ranks, scores_from_rank
    from eval.redial_runner import rank_turn
    from eval.systems import DialogueStates, RecbotSystem

    states = DialogueStates(understander, lambda state, text: engine.understand(state, text))
    system = RecbotSystem(states, engine.catalogue)
    units: dict[str, list[Unit]] = {f"{m} ({v})": [] for v in VIEWS for m in REDIAL_METRICS}
    for turn in tqdm(turns, desc=desc, unit="turn", disable=not progress, leave=False):
        for view in VIEWS:
            truth = truth_for_turn(turn, view)
            sums = dict.fromkeys(REDIAL_METRICS, 0.0)
            if truth:
                for rank in item_ranks(rank_turn(system, turn, catalogue, view), truth):
                    for m, value in scores_from_rank(rank).items():
                        sums[m] += value
            for m in REDIAL_METRICS:
                units[f"{m} ({view})"].append((sums[m], float(len(truth))))
    return units, states.utterances_read


# --------------------------------------------------------------------------------------------------
# the comparison


@dataclass
class ABResult:
    a: VersionRun
    b: VersionRun
    simulator: list[Comparison]
    redial: list[Comparison]
    info: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def default_out_dir() -> Path:
    return simulator_out_dir("templates")


def _check_file(path: Path, what: str, option: str) -> None:
    if not path.is_file():
        raise TemplatesABError(f"{path}: {what} not found; pass its path with {option}")


@dataclass
class _Seekers:
    """What every simulator run of a comparison shares: the index, the understander and the seekers."""

    phrases: Phrases
    catalogue: RedialCatalogue
    snapshot: Any  # retrieval.index.IndexSnapshot of the ingested ReDial catalogue
    understander: Any  # bot.understand.Understander over that catalogue
    profiles: list[SeekerProfile]
    skipped: dict[str, int]

    @property
    def titles(self):
        return self.understander.vocab.titles


def _load_seekers(
    settings: Settings,
    catalogue: RedialCatalogue,
    catalogue_path: Path,
    dialogues_path: Path,
    n_dialogues: int,
    *,
    progress: bool,
) -> _Seekers:
    """Opens (ingesting once) the ReDial index and picks the first ``n_dialogues`` seekers with a target."""
    from bot.understand import Understander
    from eval.redial_runner import open_redial_index

    phrases = Phrases.load()
    snapshot = open_redial_index(settings, catalogue_path, progress=progress)
    understander = Understander.from_items(snapshot.table.items)
    profiles, skipped = select_profiles(
        read_dialogues(dialogues_path, catalogue),
        catalogue,
        phrases,
        understander.vocab.titles,
        read_seeker_mentions(dialogues_path),
        n_dialogues,
    )
    if not profiles:
        raise TemplatesABError(f"{dialogues_path}: no dialogue has a target movie in the catalogue")
    return _Seekers(phrases, catalogue, snapshot, understander, profiles, skipped)


def _simulate_version(
    version: TemplateVersion,
    seekers: _Seekers,
    llm: LLM,
    settings: Settings,
    *,
    k: int,
    max_turns: int,
    understanding: Understanding,
    seed: int,
    explanations: bool,
    progress: bool,
    desc: str = "simulator",
) -> SimulationRun:
    """The user simulator's conversations with the engine built with ``version``'s templates."""
    engine = _engine(
        version,
        seekers.snapshot,
        seekers.understander,
        llm,
        settings,
        k=k,
        understanding=understanding,
        seed=seed,
        for_simulation=True,
    )
    sim = simulate_many(
        engine,
        seekers.profiles,
        seekers.catalogue,
        seekers.phrases,
        seekers.titles,
        max_turns=max_turns,
        seed=seed,
        explanations=explanations,
        progress=progress,
        desc=desc,
    )
    sim.skipped = seekers.skipped
    return sim


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def run(
    a_spec: str,
    b_spec: str,
    *,
    dialogues_path: str | Path,
    turns_path: str | Path,
    catalogue_path: str | Path,
    n_dialogues: int = 30,
    max_turns: int = 5,
    turns_limit: int = 40,
    k: int = 3,
    seed: int = 0,
    n_boot: int = 2000,
    understanding: Understanding = "auto",
    explanations: bool = False,
    replay: bool = True,
    settings: Settings | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    write: bool = True,
) -> ABResult:
    """Run both versions on the same dialogues and turns and compare them (see the module docs)."""
    from bot import services

    t_start = time.perf_counter()
    settings = settings or get_settings()
    dialogues_path, turns_path, catalogue_path = Path(dialogues_path), Path(turns_path), Path(catalogue_path)
    _check_file(catalogue_path, "the ReDial catalogue (id2info.json)", "--catalogue")
    _check_file(dialogues_path, "the raw ReDial dialogues", "--dialogues-file")
    _check_file(turns_path, "the ReDial turns", "--turns")
    if min(n_dialogues, max_turns, k) < 1 or turns_limit < 0:
        raise TemplatesABError("dialogues, max_turns and k must be >= 1, turns_limit >= 0")

    catalogue = load_catalogue(catalogue_path)
    turns = read_turns(turns_path, catalogue)[:turns_limit]
    seekers = _load_seekers(
        settings, catalogue, catalogue_path, dialogues_path, n_dialogues, progress=progress
    )
    setup_s = time.perf_counter() - t_start

    base_llm = evaluation_llm(settings)
    llm: LLM = ReplayLLM(base_llm) if replay else base_llm
    with tempfile.TemporaryDirectory(prefix="recbot-ab-") as tmp:
        library = services.prompt_library(settings)
        versions = [
            resolve_version(a_spec, library, Path(tmp), "a"),
            resolve_version(b_spec, library, Path(tmp), "b"),
        ]
        runs: list[VersionRun] = []
        for slot, version in zip("AB", versions, strict=True):
            sim = _simulate_version(
                version,
                seekers,
                llm,
                settings,
                k=k,
                max_turns=max_turns,
                understanding=understanding,
                seed=seed,
                explanations=explanations,
                progress=progress,
                desc=f"{slot} simulator",
            )
            t0 = time.perf_counter()
            turn_engine = _engine(
                version,
                seekers.snapshot,
                seekers.understander,
                llm,
                settings,
                k=k,
                understanding="always",
                seed=seed,
                for_simulation=False,
            )
            units, read = redial_turn_units(
                turn_engine,
                seekers.understander,
                turns,
                catalogue,
                progress=progress,
                desc=f"{slot} redial turns",
            )
            runs.append(VersionRun(version, sim, units, time.perf_counter() - t0, read))
        differ = differing_templates(*versions)
        fingerprints = {"A": versions[0].fingerprint(), "B": versions[1].fingerprint()}

    ra, rb = runs
    ua, ub = ra.simulation.units(k, max_turns), rb.simulation.units(k, max_turns)
    simulator = [paired_bootstrap(m, ua[m], ub[m], n_boot=n_boot, seed=seed) for m in ua]
    redial = [
        paired_bootstrap(m, ra.redial_units[m], rb.redial_units[m], n_boot=n_boot, seed=seed)
        for m in ra.redial_units
    ]
    minutes = (time.perf_counter() - t_start) / 60
    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "A": a_spec,
        "B": b_spec,
        "templates_that_differ": differ,
        "template_fingerprints": fingerprints,
        "llm": f"{settings.llm.backend}:{settings.llm.model}",
        "llm_calls": getattr(llm, "calls", None),
        "llm_calls_replayed": getattr(llm, "replayed", None),
        "dialogues": len(seekers.profiles),
        "dialogues_skipped": seekers.skipped,
        "max_turns": max_turns,
        "k": k,
        "turns_scored": len(turns),
        "seed": seed,
        "bootstrap_resamples": n_boot,
        "simulator_understanding": understanding,
        "explanations": explanations,
        "minutes": round(minutes, 2),
        "setup_seconds": round(setup_s, 1),
        "seconds": {
            slot: {"simulator": round(r.simulation.seconds, 1), "redial_turns": round(r.redial_seconds, 1)}
            for slot, r in zip("AB", runs, strict=True)
        },
        "simulator_stats": {slot: r.simulation.stats() for slot, r in zip("AB", runs, strict=True)},
        "redial_utterances_read": {slot: r.utterances_read for slot, r in zip("AB", runs, strict=True)},
        "files": {
            "dialogues": str(dialogues_path),
            "turns": str(turns_path),
            "catalogue": str(catalogue_path),
        },
    }
    result = ABResult(ra, rb, simulator, redial, info)
    if write:
        result.files = write_report(
            out_dir or default_out_dir(), result, seekers.profiles, [t.key for t in turns]
        )
    return result


# --------------------------------------------------------------------------------------------------
# output


def _notes(result: ABResult) -> list[str]:
    i = result.info
    differ = i["templates_that_differ"]
    same = "none (A and B are the same)"
    notes = [f"templates that differ between A and B: {', '.join(differ) if differ else same}"]
    if differ and "understand" not in differ:
        notes.append(
            "`understand` is the same in A and B: the ReDial-turn metrics cannot differ (the LLM's "
            "answers to identical requests are replayed), only the simulator can"
        )
    if differ and set(differ) <= {"recommend_item", "recommend", "answer", "chitchat", "explain"}:
        notes.append("only explanation/answer templates differ: they never change the cards")
    notes += [
        (
            f"LLM {i['llm']}; {i['llm_calls']} calls, {i['llm_calls_replayed']} replayed from identical "
            "earlier requests"
        ),
        (
            f"simulator: {i['dialogues']} ReDial seekers with a target "
            f"({i['dialogues_skipped'] or 'none skipped'}), {i['max_turns']} bot turns each, "
            f"{i['k']} cards a turn, understanding '{i['simulator_understanding']}', explanations "
            f"{'generated' if i['explanations'] else 'skipped (they do not change the cards)'}; "
            "CIs resample dialogues"
        ),
        (
            f"ReDial turns: the first {i['turns_scored']} recommender turns with rec items, `recbot` with "
            "every seeker utterance read by the LLM (the version's `understand`); CIs resample turns"
        ),
        f"paired percentile bootstrap, {i['bootstrap_resamples']} resamples, seed {i['seed']}",
        f"minutes: {i['minutes']:.1f} in all (setup {i['setup_seconds']:.0f} s; "
        + "; ".join(
            f"{s}: simulator {v['simulator']:.0f} s, ReDial turns {v['redial_turns']:.0f} s"
            for s, v in i["seconds"].items()
        )
        + ")",
    ]
    return notes


def tables(result: ABResult, fmt: Literal["text", "markdown"] = "text") -> str:
    render = text_table if fmt == "text" else markdown_table
    a, b = result.info["A"], result.info["B"]
    parts = []
    for title, rows, unit in (
        ("User simulator", result.simulator, "dialogues"),
        ("ReDial turns (LLM understanding)", result.redial, "turns"),
    ):
        body = render(comparison_header(a, b, unit), [comparison_cells(c) for c in rows])
        parts.append(f"## {title}\n\n{body}" if fmt == "markdown" else f"[{title}]\n{body}")
    return "\n\n".join(parts)


def print_result(result: ABResult) -> None:
    print(tables(result, "text"))
    print()
    for note in _notes(result):
        print(f"- {note}")
    if result.files:
        print(f"report: {Path(result.files['report_md']).parent}")


def write_report(
    out_dir: str | Path, result: ABResult, profiles: Sequence[SeekerProfile], turn_keys: Sequence[str]
) -> dict[str, str]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ua = result.a.simulation.units(result.info["k"], result.info["max_turns"])
    ub = result.b.simulation.units(result.info["k"], result.info["max_turns"])
    payload = {
        "run": result.info,
        "simulator": [c.to_dict() for c in result.simulator],
        "redial_turns": [c.to_dict() for c in result.redial],
        "units": {
            "simulator": {
                "ids": [p.dialog_id for p in profiles],
                "metrics": {m: {"A": ua[m], "B": ub[m]} for m in ua},
            },
            "redial_turns": {
                "ids": list(turn_keys),
                "metrics": {
                    m: {"A": result.a.redial_units[m], "B": result.b.redial_units[m]}
                    for m in result.a.redial_units
                },
            },
        },
        "note": "each unit is [numerator, denominator]; a metric is sum(numerators) / sum(denominators)",
    }
    files = {
        "result_json": out / "result.json",
        "report_md": out / "report.md",
        "conversations_a": out / "conversations_A.jsonl",
        "conversations_b": out / "conversations_B.jsonl",
    }
    _write_json(files["result_json"], payload)
    write_conversations(files["conversations_a"], result.a.simulation.conversations)
    write_conversations(files["conversations_b"], result.b.simulation.conversations)
    i = result.info
    md = [
        f"# Prompt templates A/B: {i['A']} vs {i['B']}",
        "",
        (
            f"A = `{i['A']}`, B = `{i['B']}`. Each row: the metric for A and B, B − A and its 95% paired "
            "bootstrap interval (an interval that contains 0 means no detectable difference)."
        ),
        "",
        tables(result, "markdown"),
        "",
        "## Notes",
        "",
    ]
    md += [f"- {n}" for n in _notes(result)]
    md += [
        "",
        "## Templates",
        "",
        markdown_table(
            ["template", "A", "B"],
            [
                [n, i["template_fingerprints"]["A"][n], i["template_fingerprints"]["B"][n]]
                for n in ENGINE_TEMPLATES
            ],
        ),
    ]
    md += [
        "",
        "## Simulator runs",
        "",
        markdown_table(
            ["", "A", "B"],
            [
                [name, f"{i['simulator_stats']['A'][name]:.2f}", f"{i['simulator_stats']['B'][name]:.2f}"]
                for name in i["simulator_stats"]["A"]
            ],
        ),
    ]
    md += [
        "",
        f"Data: {i['files']['dialogues']}, {i['files']['turns']}, {i['files']['catalogue']}.",
        f"Date {i['date']}.",
        "",
    ]
    files["report_md"].write_text("\n".join(md), encoding="utf-8")
    return {name: str(path) for name, path in files.items()}


# --------------------------------------------------------------------------------------------------
# one version only: `recbot eval simulate`


@dataclass
class SimulateResult:
    run: SimulationRun
    rows: list[tuple[str, float | None, float | None, float | None, int]]  # metric, value, low, high, units
    info: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def simulate(
    version_spec: str,
    *,
    dialogues_path: str | Path,
    catalogue_path: str | Path,
    n_dialogues: int = 30,
    max_turns: int = 5,
    k: int = 3,
    seed: int = 0,
    n_boot: int = 2000,
    understanding: Understanding = "auto",
    explanations: bool = False,
    settings: Settings | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    write: bool = True,
) -> SimulateResult:
    """The user simulator alone, with one template version; metrics with bootstrap intervals."""
    from bot import services

    t_start = time.perf_counter()
    settings = settings or get_settings()
    dialogues_path, catalogue_path = Path(dialogues_path), Path(catalogue_path)
    _check_file(catalogue_path, "the ReDial catalogue (id2info.json)", "--catalogue")
    _check_file(dialogues_path, "the raw ReDial dialogues", "--dialogues-file")
    if min(n_dialogues, max_turns, k) < 1:
        raise TemplatesABError("dialogues, max_turns and k must be >= 1")
    catalogue = load_catalogue(catalogue_path)
    seekers = _load_seekers(
        settings, catalogue, catalogue_path, dialogues_path, n_dialogues, progress=progress
    )
    with tempfile.TemporaryDirectory(prefix="recbot-sim-") as tmp:
        version = resolve_version(version_spec, services.prompt_library(settings), Path(tmp), "a")
        sim = _simulate_version(
            version,
            seekers,
            evaluation_llm(settings),
            settings,
            k=k,
            max_turns=max_turns,
            understanding=understanding,
            seed=seed,
            explanations=explanations,
            progress=progress,
        )
        fingerprint = version.fingerprint()
    units = sim.units(k, max_turns)
    rows = []
    for metric, us in units.items():
        value, low, high = bootstrap_interval(us, n_boot=n_boot, seed=seed)
        rows.append((metric, value, low, high, sum(1 for _, d in us if d > 0)))
    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "templates": version_spec,
        "template_fingerprint": fingerprint,
        "llm": f"{settings.llm.backend}:{settings.llm.model}",
        "dialogues": len(seekers.profiles),
        "dialogues_skipped": seekers.skipped,
        "max_turns": max_turns,
        "k": k,
        "seed": seed,
        "bootstrap_resamples": n_boot,
        "understanding": understanding,
        "explanations": explanations,
        "minutes": round((time.perf_counter() - t_start) / 60, 2),
        "stats": sim.stats(),
        "files": {"dialogues": str(dialogues_path), "catalogue": str(catalogue_path)},
    }
    result = SimulateResult(sim, rows, info)
    if write:
        out = Path(out_dir or simulator_out_dir("simulate"))
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "result_json": out / "result.json",
            "report_md": out / "report.md",
            "conversations": out / "conversations.jsonl",
        }
        payload = {
            "run": info,
            "metrics": [
                dict(zip(("metric", "value", "ci_low", "ci_high", "units"), r, strict=True)) for r in rows
            ],
            "units": {"ids": [p.dialog_id for p in seekers.profiles], "metrics": units},
        }
        _write_json(files["result_json"], payload)
        write_conversations(files["conversations"], sim.conversations)
        md = [
            f"# User simulator: templates {version_spec}",
            "",
            simulate_table(result, "markdown"),
            "",
            "## Run",
            "",
        ]
        md += [
            f"- {name}: {value}"
            for name, value in info.items()
            if name not in ("template_fingerprint", "stats")
        ]
        md += [f"- {name}: {value:.2f}" for name, value in info["stats"].items()]
        files["report_md"].write_text("\n".join(md) + "\n", encoding="utf-8")
        result.files = {name: str(path) for name, path in files.items()}
    return result


def simulate_table(result: SimulateResult, fmt: Literal["text", "markdown"] = "text") -> str:
    def num(x: float | None) -> str:
        return "—" if x is None else f"{x:.3f}"

    header = ["metric", "value", "95% CI", "dialogues"]
    rows = [
        [m, num(v), "—" if lo is None else f"[{num(lo)}, {num(hi)}]", str(n)]
        for m, v, lo, hi, n in result.rows
    ]
    return (text_table if fmt == "text" else markdown_table)(header, rows)


__all__ = [
    "ENGINE_TEMPLATES",
    "ABResult",
    "ReplayLLM",
    "SimulateResult",
    "TemplateVersion",
    "TemplatesABError",
    "VersionRun",
    "default_out_dir",
    "differing_templates",
    "evaluation_llm",
    "print_result",
    "redial_turn_units",
    "resolve_version",
    "run",
    "simulate",
    "simulate_table",
    "tables",
    "write_report",
]
