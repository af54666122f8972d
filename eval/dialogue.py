"""`recbot eval dialogue`: scripted multi-turn conversations through the HTTP API, scored by category.

Conversations are YAML files in ``eval/dialogues/`` (one file per catalogue and language)::

    catalogue: movies
    language: zh
    conversations:
      - id: zh-scifi
        tags: [slice]                       # the small slice the tests run
        turns:
          - say: 推荐几部好看的科幻电影
            expect: {action: recommend, cards: {genres_any: [sci-fi]}}
          - feedback: {kind: dislike, card: 1}   # like / dislike / seen on a card of the last list
          - say: 第一部是谁导演的？
            expect: {answer: {fact: director, card: 1}}

Every turn goes through the real API (``POST /v1/sessions``, ``/messages``, ``/feedback``) over HTTP: by
default of a ``recbot serve`` started for the run with the same settings (:mod:`eval.serve_process`), or
of a running server with ``--server URL``. What each ``expect`` key checks is in :mod:`eval.dialogue_checks`;
every turn with text is also checked for its language, and every turn with cards for faithfulness.
A turn passes when all its checks pass; the table gives pass rates by category, language and catalogue,
whole conversations, and false claims per 100 explanation sentences.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from eval.dialogue_checks import (
    Check,
    Faithfulness,
    TurnView,
    check_answer,
    check_cards,
    check_faithfulness,
    check_honesty,
    check_language,
)
from eval.serve_process import recbot_serve, settings_env

log = logging.getLogger(__name__)

SUITE_DIR = Path(__file__).resolve().parent / "dialogues"
LANGUAGES_FILE = SUITE_DIR / "_languages.yaml"
_EXPECT_KEYS = {"action", "cards", "answer", "honest", "forbid", "language"}
_TURN_KEYS = {"say", "feedback", "expect", "note"}
READY_TIMEOUT_S = 600.0


class SuiteError(ValueError):
    """A conversation file that cannot be used; the message names the file, conversation and field."""


@dataclass
class Turn:
    say: str | None = None
    feedback: dict[str, Any] | None = None
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass
class Conversation:
    id: str
    catalogue: str
    language: str
    turns: list[Turn]
    tags: list[str] = field(default_factory=list)
    source: str = ""


def _conversation(raw: Any, path: Path, catalogue: str, language: str, n: int) -> Conversation:
    where = f"{path}: conversation {n}"
    if not isinstance(raw, dict) or not raw.get("id") or not isinstance(raw.get("turns"), list):
        raise SuiteError(f"{where}: needs an 'id' and a list of 'turns'")
    where = f"{path}: conversation {raw['id']!r}"
    turns = []
    for t, rt in enumerate(raw["turns"], 1):
        if not isinstance(rt, dict) or not (set(rt) <= _TURN_KEYS) or ("say" in rt) == ("feedback" in rt):
            raise SuiteError(f"{where}, turn {t}: needs exactly one of 'say' / 'feedback' "
                             f"(allowed keys: {sorted(_TURN_KEYS)})")
        expect = rt.get("expect") or {}
        unknown = set(expect) - _EXPECT_KEYS
        if unknown:
            raise SuiteError(f"{where}, turn {t}: unknown expect key(s) {sorted(unknown)}; "
                             f"known: {sorted(_EXPECT_KEYS)}")
        fb = rt.get("feedback")
        if fb is not None and (fb.get("kind") not in ("like", "dislike", "seen") or "card" not in fb):
            raise SuiteError(f"{where}, turn {t}: feedback needs kind (like|dislike|seen) and card (1, 2…)")
        turns.append(Turn(say=rt.get("say"), feedback=fb, expect=expect))
    return Conversation(id=str(raw["id"]), catalogue=raw.get("catalogue", catalogue),
                        language=raw.get("language", language), turns=turns, tags=list(raw.get("tags") or []),
                        source=path.name)


def load_suite(paths: Sequence[Path | str] | None = None, tags: Iterable[str] = (),
               only: Iterable[str] = ()) -> list[Conversation]:
    """The conversations of ``paths`` (files or folders; default the packaged suite), filtered by tag / id."""
    files: list[Path] = []
    for p in [Path(x) for x in (paths or [SUITE_DIR])]:
        files += sorted(f for f in p.glob("*.yaml") if not f.name.startswith("_")) if p.is_dir() else [p]
    out: list[Conversation] = []
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SuiteError(f"{path}: cannot read: {exc}") from exc
        if not isinstance(data, dict) or not data.get("catalogue") or not data.get("language"):
            raise SuiteError(f"{path}: needs 'catalogue', 'language' and 'conversations' at the top level")
        for n, raw in enumerate(data.get("conversations") or [], 1):
            out.append(_conversation(raw, path, data["catalogue"], data["language"], n))
    tags, only = set(tags), set(only)
    ids = [c.id for c in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SuiteError(f"conversation ids used twice: {dupes}")
    return [c for c in out if (not tags or tags & set(c.tags)) and (not only or c.id in only)]


@dataclass
class TurnOutcome:
    conversation: str
    turn: int
    catalogue: str
    language: str
    say: str
    action: str
    text: str
    cards: list[str]
    checks: list[Check]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


@dataclass
class SuiteResult:
    turns: list[TurnOutcome] = field(default_factory=list)
    faithfulness: Faithfulness = field(default_factory=Faithfulness)
    seconds: float = 0.0

    def rates(self) -> dict[str, tuple[int, int]]:
        """(passed, total) per row of the table."""
        rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])

        def add(key: str, ok: bool) -> None:
            rows[key][0] += int(ok)
            rows[key][1] += 1
        for t in self.turns:
            by_cat: dict[str, bool] = {}
            for cat, ok, _ in t.checks:
                by_cat[cat] = by_cat.get(cat, True) and ok
            for cat, ok in by_cat.items():
                add(f"category: {cat}", ok)
            card_checks = [ok for cat, ok, _ in t.checks if cat == "cards"]
            for ok in card_checks:
                add("card constraints (each)", ok)
            add(f"language: {t.language}", t.passed)
            add(f"catalogue: {t.catalogue}", t.passed)
            add("turns", t.passed)
        convs: dict[str, bool] = {}
        for t in self.turns:
            convs[t.conversation] = convs.get(t.conversation, True) and t.passed
        for ok in convs.values():
            add("conversations", ok)
        return {k: (v[0], v[1]) for k, v in sorted(rows.items())}

    def table(self) -> str:
        lines = [f"{'':34} {'pass':>6} {'total':>6} {'rate':>7}"]
        for key, (ok, total) in self.rates().items():
            lines.append(f"{key:34} {ok:6d} {total:6d} {100 * ok / max(total, 1):6.1f}%")
        f = self.faithfulness
        lines.append(f"{'false claims / 100 expl. sentences':34} {f.false:6d} {f.sentences:6d} "
                     f"{100 * f.false / max(f.sentences, 1):7.2f}")
        secs = sorted(t.seconds for t in self.turns)
        if secs:
            lines.append(f"turn time p50 {secs[len(secs) // 2]:.2f} s, max {secs[-1]:.2f} s; "
                         f"whole suite {self.seconds:.0f} s")
        return "\n".join(lines)

    def failures(self, limit: int = 40) -> str:
        out = []
        for t in self.turns:
            if not t.passed:
                bad = "; ".join(f"[{c}] {note}" for c, ok, note in t.checks if not ok)
                out.append(f"- {t.conversation} #{t.turn} ({t.action}) {t.say!r}: {bad}\n    reply: "
                           f"{' '.join(t.text.split())[:160]!r}")
        return "\n".join(out[:limit]) + (f"\n… {len(out) - limit} more" if len(out) > limit else "")

    def to_json(self) -> dict[str, Any]:
        return {"rates": {k: {"passed": a, "total": b} for k, (a, b) in self.rates().items()},
                "faithfulness": asdict(self.faithfulness), "seconds": self.seconds,
                "turns": [{**asdict(t), "passed": t.passed} for t in self.turns]}


class ApiClient:
    """The few API calls the suite makes, over an ``httpx.Client`` whose base URL is the server."""

    def __init__(self, http: Any) -> None:
        self.http = http

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        for _ in range(30):
            r = self.http.post(url, json=body)
            if r.status_code == 429:  # rate limited: wait as told
                time.sleep(float(r.headers.get("retry-after", "1")))
                continue
            if r.status_code >= 400:
                raise RuntimeError(f"POST {url} -> {r.status_code}: {r.text[:300]}")
            return r.json()
        raise RuntimeError(f"POST {url}: still rate limited")

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.http.get("/readyz").status_code == 200:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the API was not ready after {timeout:.0f} s (GET /readyz)")

    def session(self, catalogue: str) -> str:
        return self._post("/v1/sessions", {"catalogue": catalogue})["session_id"]

    def send(self, sid: str, text: str) -> dict[str, Any]:
        return self._post(f"/v1/sessions/{sid}/messages", {"text": text})

    def state(self, sid: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/sessions/{sid}")
        return r.json().get("state", {}) if r.status_code == 200 else {}

    def feedback(self, sid: str, kind: str, item_id: str) -> None:
        self._post(f"/v1/sessions/{sid}/feedback", {"kind": kind, "item_id": item_id})


def run_suite(client: ApiClient, conversations: Sequence[Conversation], catalogues: dict[str, Any],
              progress: bool = False) -> SuiteResult:
    """Play every conversation through ``client``. ``catalogues``: name -> object with ``get`` and
    ``claims`` (see :func:`catalogue_facts`)."""
    langs = yaml.safe_load(LANGUAGES_FILE.read_text(encoding="utf-8"))
    words = {k: set(v) for k, v in langs["words"].items()}
    result = SuiteResult()
    t_suite = time.perf_counter()
    for conv in conversations:
        cat = catalogues[conv.catalogue]
        sid = client.session(conv.catalogue)
        history: list[list[Any]] = []
        shown: set[str] = set()
        feedback: set[str] = set()
        for n, turn in enumerate(conv.turns, 1):
            if turn.feedback is not None:
                last = history[-1] if history else []
                i = int(turn.feedback["card"]) - 1
                if 0 <= i < len(last):
                    client.feedback(sid, turn.feedback["kind"], last[i].id)
                    feedback.add(last[i].id)
                continue
            t0 = time.perf_counter()
            reply = client.send(sid, turn.say or "")
            seconds = time.perf_counter() - t0
            cards = reply.get("recommendations") or []
            items = [it for it in (cat.get(c["id"]) for c in cards) if it is not None]
            language = turn.expect.get("language", conv.language)
            view = TurnView(text=reply.get("text", ""), action=reply.get("action", ""), cards=cards, items=items,
                            language=language, previous_cards=list(history), shown=set(shown), feedback=set(feedback))
            checks: list[Check] = []
            exp = turn.expect
            if "action" in exp:
                want = exp["action"] if isinstance(exp["action"], list) else [exp["action"]]
                checks.append(("cards" if "recommend" in want else "answers", view.action in want,
                               f"action {view.action} (want {'|'.join(want)})"))
            if "cards" in exp:
                checks += check_cards(view, exp["cards"] or {})
            if "answer" in exp:
                checks += check_answer(view, exp["answer"], cat.get, langs["cannot"])
            if "honest" in exp:
                checks += check_honesty(view, exp["honest"] or {}, langs["cannot"])
            if items or "forbid" in exp:
                state = client.state(sid)  # the person's own items may be named; their numbers repeated
                view.feedback |= {i for k in ("liked_ids", "disliked_ids", "seen_ids") for i in state.get(k) or []}
                checks += check_faithfulness(view, cat.claims, result.faithfulness, exp.get("forbid") or (),
                                             stated=_stated(state))
            if language:
                checks += check_language(view, words)
            outcome = TurnOutcome(conversation=conv.id, turn=n, catalogue=conv.catalogue, language=conv.language,
                                  say=turn.say or "", action=view.action, text=view.text,
                                  cards=[c.get("label", "") for c in cards], checks=checks, seconds=seconds)
            result.turns.append(outcome)
            if progress:
                print(f"{'ok  ' if outcome.passed else 'FAIL'} {conv.id} #{n} {seconds:5.1f}s {turn.say!r}",
                      flush=True)
            if items:
                history.append(items)
                shown.update(it.id for it in items)
    result.seconds = time.perf_counter() - t_suite
    return result


def _stated(state: dict[str, Any]) -> list[float]:
    """Numbers the person gave (year bounds, limits), from the session state the API reports."""
    ranges = [state.get("year"), *(state.get("facts") or {}).values()]
    return [float(r[k]) for r in ranges if isinstance(r, dict) for k in ("min", "max") if r.get(k) is not None]


@dataclass
class CatalogueFacts:
    get: Any
    claims: Any


def catalogue_facts(names: Iterable[str]) -> dict[str, CatalogueFacts]:
    """The suite's own copy of each catalogue (loaded from its source, not asked of the server)."""
    from bot.claims import ClaimChecker
    from bot.titles import TitleIndex
    from retrieval.catalogue import load_catalogue

    out = {}
    for name in names:
        items = load_catalogue(name, progress=False).items
        by_id = {it.id: it for it in items}
        out[name] = CatalogueFacts(get=by_id.get, claims=ClaimChecker(TitleIndex(items), by_id.get, items))
    return out


def run(settings: Any, conversations: Sequence[Conversation], server: str | None = None,
        progress: bool = True, out: Path | None = None) -> SuiteResult:
    """Run the suite against ``server`` (a URL), or against a ``recbot serve`` started here with
    ``settings`` on a free loopback port (rate limit off, API keys off: it is this machine's only) and
    stopped at the end; its output goes to ``server.log`` in ``out`` (else a temporary folder)."""
    names = list(dict.fromkeys(c.catalogue for c in conversations))
    facts = catalogue_facts(names)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recbot-dialogue-") as tmp, ExitStack() as stack:
        if server is None:
            local = settings.model_copy(update={"api": settings.api.model_copy(update={"keys": []})})
            child = recbot_serve((out or Path(tmp)) / "server.log", catalogues=names, env=settings_env(local),
                                 ready_timeout_s=READY_TIMEOUT_S)
            server = stack.enter_context(child).url
        http = stack.enter_context(httpx.Client(base_url=server, timeout=300, trust_env=False))
        client = ApiClient(http)
        client.wait_ready()
        result = run_suite(client, conversations, facts, progress)
    if out is not None:
        (out / "result.json").write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        (out / "table.txt").write_text(result.table() + "\n\nfailures:\n" + result.failures(1000) + "\n",
                                       encoding="utf-8")
    return result
