"""The turn engine: understand → update state → decide → (retrieve) → prompt → grounded streamed reply.

The engine owns no storage and no UI. Callers (terminal chat, Gradio app, HTTP API) keep a
:class:`SessionState` per conversation, call :meth:`ConversationEngine.stream_turn` with the user's
text and show the :class:`TurnEvent` objects it yields:

- ``recommendations`` — the structured cards, as soon as retrieval has chosen them (before any text);
- ``text`` — checked reply text, streamed sentence by sentence;
- ``done`` — the :class:`TurnResult` (action, full text, cards, what was understood, timings).

Retrieval is reached through one narrow interface, :class:`Catalogue` (``retrieve``, ``get``,
``items``), which :class:`retrieval.retriever.Retriever` implements. The LLM only words questions and
explanations; every item named in a reply is one retrieval chose (see :mod:`bot.grounding`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from bot.claims import ClaimChecker
from bot.explain import Explainer, Explanation, state_language, stated_numbers
from bot.grounding import GroundedStream
from bot.llm.base import LLM, ChatMessage, GenerationConfig, LLMError
from bot.policy import Action, decide
from bot.replies import fixed_reply, follow_up, render
from bot.state import SessionState
from bot.understanding import FeedbackKind, Understander, Understanding, related_ids
from bot.understanding.llm_step import LLMReader
from bot.understanding.topic_change import starts_new_topic
from prompts.loader import PromptLibrary
from retrieval.schema import Candidate, Item, Query

log = logging.getLogger(__name__)



class Catalogue(Protocol):
    """What the dialogue layer may ask of retrieval."""

    def retrieve(self, query: Query) -> list[Candidate]: ...

    def get(self, item_id: str) -> Item | None: ...

    @property
    def items(self) -> Sequence[Item]: ...


@dataclass
class Recommendation:
    """One recommendation card: what the UI and API show."""

    id: str
    title: str
    year: int | None
    label: str
    genres: list[str]
    facts: dict[str, Any]
    why: str
    reasons: list[str]
    score: float
    people: dict[str, list[str]] = field(default_factory=dict)  # role (director, cast…) -> names
    plot: str | None = None  # one whole sentence, where the catalogue has a plot
    language: str = "en"  # of the "why" (the session's language); the page labels the card in it

    @classmethod
    def from_candidate(cls, c: Candidate, max_facts: int = 4, explanation: Explanation | None = None) -> Recommendation:
        """A card; ``explanation`` (from :mod:`bot.explain`) gives its checked "why", people and plot."""
        it = c.item
        facts = dict(list(_telling_facts(it.facts).items())[:max_facts])
        if explanation is not None:
            return cls(id=it.id, title=it.title, year=it.year, label=it.label, genres=list(it.genres[:4]),
                       facts=facts, why=explanation.why, reasons=list(c.reasons), score=round(c.score, 4),
                       people=explanation.people, plot=explanation.plot, language=explanation.language)
        why = "; ".join(c.reasons[:2]) if c.reasons else "matches what you asked for"
        return cls(id=it.id, title=it.title, year=it.year, label=it.label, genres=list(it.genres[:4]),
                   facts=facts, why=why, reasons=list(c.reasons), score=round(c.score, 4))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _telling_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """Facts worth showing a person: no identifiers, no empty or zero values, no long strings."""
    return {
        k: v for k, v in facts.items()
        if v not in (None, "", 0, False) and not k.endswith(("_id", "id")) and not (isinstance(v, str) and len(v) > 60)
    }


@dataclass
class TurnResult:
    action: str
    reason: str
    text: str
    recommendations: list[Recommendation] = field(default_factory=list)
    understood: dict[str, Any] = field(default_factory=dict)
    dropped_sentences: list[str] = field(default_factory=list)
    cancelled: bool = False
    degraded: str | None = None  # why the reply is a fallback (LLM failed), if it is
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["recommendations"] = [r.to_dict() for r in self.recommendations]
        return d


@dataclass
class TurnEvent:
    kind: Literal["recommendations", "text", "done"]
    text: str = ""
    recommendations: list[Recommendation] = field(default_factory=list)
    result: TurnResult | None = None


def final_result(events: Iterable[TurnEvent]) -> TurnResult:
    """Run a turn's event stream to its end and return the result its ``done`` event carries."""
    result = None
    for event in events:
        if event.kind == "done":
            result = event.result
    assert result is not None, "a turn ended without its done event"
    return result


@dataclass
class _Segment:
    """One LLM call of a turn and how its output is framed and checked."""

    messages: list[ChatMessage]
    config: GenerationConfig
    allowed: list[str]  # items this part may name
    prefix: str = ""  # written before the model's text
    label_prefix: str = ""  # "1. Alien (1979): ", shortened to "1. " when the model names the item itself
    title: str = ""
    suffix: str = ""
    fallback: str = ""  # used when the model writes nothing usable
    text: str = ""  # ready text (checked reasons rendered by bot.explain): no LLM call
    trusted: bool = False  # ready text made from catalogue facts (bot.replies): not re-checked


@dataclass
class EngineConfig:
    k: int = 3  # recommendations per turn
    prompt_set: str = "default"
    domain: str = "movies"
    item_noun: str = "movie"
    bot_name: str = "recbot"
    llm_understanding: Literal["auto", "always", "never"] = "auto"
    # "reasons": checked reasons rendered from templates (bot.explain), no LLM; "per_item" / "list": the
    # LLM words them (one call per item / one for the list), every sentence claim-checked
    explain: Literal["reasons", "per_item", "list"] = "reasons"
    max_tokens: int = 220  # list explanations and answers
    item_tokens: int = 50  # one item's explanation
    question_tokens: int = 60
    temperature: float = 0.3
    seed: int | None = None
    fixed_questions: bool = True  # questions from the ask_fixed template (instant, never repeated), not the LLM
    follow_up: bool = True  # a short question after recommendations


class ConversationEngine:
    def __init__(self, catalogue: Catalogue, llm: LLM, prompts: PromptLibrary,
                 config: EngineConfig | None = None, understander: Understander | None = None) -> None:
        self.catalogue = catalogue
        self.llm = llm
        self.prompts = prompts
        self.config = config or EngineConfig()
        self.understander = understander or Understander.from_items(list(catalogue.items))
        self.titles = self.understander.vocab.titles
        self.claims = ClaimChecker(self.titles, self.catalogue.get, self.catalogue.items)
        self.explainer = Explainer(self.catalogue.get, self.config.item_noun, self.catalogue.items)

    # -- public ---------------------------------------------------------------------------------

    def run_turn(self, state: SessionState, text: str, cancel: threading.Event | None = None) -> TurnResult:
        """A whole turn, not streamed."""
        return final_result(self.stream_turn(state, text, cancel))

    def feedback(self, state: SessionState, kind: FeedbackKind, item_id: str) -> None:
        """Like / dislike / seen on an item (from buttons or commands); the next retrieval uses it."""
        if self.catalogue.get(item_id) is None:
            raise KeyError(f"no item {item_id!r} in the catalogue")
        state.apply_feedback(kind, item_id)

    def _retrieve(self, query: Query, *, shifted: bool) -> list[Candidate]:
        """The candidates for ``query``. After a shift ("something funnier") the new genres are what was
        asked for, not a hint: they are required while the catalogue has enough such items, so a liked
        thriller cannot pull a non-comedy back in."""
        if shifted and query.genres and "genres" not in query.require:
            strict = self.catalogue.retrieve(query.model_copy(update={"require": [*query.require, "genres"]}))
            if len(strict) >= query.k:
                return strict
        return self.catalogue.retrieve(query)

    def stream_turn(self, state: SessionState, text: str, cancel: threading.Event | None = None) -> Iterator[TurnEvent]:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        u = self.understand(state, text, cancel)
        timings["understand_s"] = time.perf_counter() - t0
        state.apply(u)
        action = decide(state, u)
        log.info("turn %d: %s (%s)", state.turn, action.kind, action.reason)

        recs: list[Recommendation] = []
        allowed: list[str] = []
        if action.kind == "recommend":
            t1 = time.perf_counter()
            series = related_ids(self.understander.vocab.items, [*state.liked_ids, *state.shown_ids], state.no_series)
            candidates = self._retrieve(state.to_query(self.config.k, also_exclude=series), shifted=u.replace_genres)
            timings["retrieve_s"] = time.perf_counter() - t1
            lang = state_language(state)
            recs = [Recommendation.from_candidate(c, explanation=self.explainer.explain(c.item, state, lang))
                    for c in candidates]
            allowed = [r.id for r in recs]
            if recs:
                state.record_recommendations(allowed)
            yield TurnEvent("recommendations", recommendations=recs)
        elif action.kind == "answer" and action.item_id:
            allowed = [action.item_id]

        context = [*state.liked_ids, *state.disliked_ids, *state.seen_ids, *u.liked_ids, *u.disliked_ids]
        parts: list[str] = []
        dropped: list[str] = []
        degraded = None
        first = None
        for segment in self._segments(state, text, action, recs):
            if cancel is not None and cancel.is_set():
                break
            grounded = GroundedStream(self.titles, segment.allowed, context, claims=self.claims,
                                      stated=stated_numbers(state))
            seg_parts: list[str] = []
            try:
                source = [segment.text] if segment.text else self.llm.stream(segment.messages, segment.config, cancel)
                for piece in (source if segment.trusted else grounded.filter(source)):
                    if not seg_parts and segment.prefix:
                        piece = segment.prefix + piece.lstrip()
                    elif not seg_parts and segment.label_prefix:
                        # "1. " when the model names the item itself, else "1. Title (Year): "
                        named = segment.title.casefold() in piece.casefold()
                        piece = (segment.label_prefix if not named else segment.label_prefix.split(" ")[0] + " ") + piece.lstrip()
                    if first is None:
                        first = time.perf_counter() - t0
                    seg_parts.append(piece)
                    yield TurnEvent("text", text=piece)
            except LLMError as exc:
                log.warning("LLM failed during a %s turn: %s", action.kind, exc)
                # shown to API clients: the reason's kind, never the backend's address or internals
                degraded = "the language model is unavailable" + (
                    " (it timed out)" if "timed out" in str(exc).casefold() else "")
            dropped += grounded.report.dropped
            cancelled = bool(cancel and cancel.is_set())
            if segment.fallback and not cancelled and not seg_parts:
                # the model skipped or mangled this item: a plain, grounded line instead
                piece = ("" if not seg_parts else "\n") + segment.fallback
                seg_parts.append(piece)
                yield TurnEvent("text", text=piece)
            if seg_parts and segment.suffix:
                seg_parts.append(segment.suffix)
                yield TurnEvent("text", text=segment.suffix)
            parts += seg_parts
            if degraded:
                break
        cancelled = bool(cancel and cancel.is_set())

        # items not reached (the model failed part-way) still get their grounded line
        named_text = "".join(parts)
        missing = [r for r in recs if r.label not in named_text]
        if missing and not cancelled:
            # numbered by their place in the list, like the lines the model or the reasons wrote
            tail = ("\n" if parts else "") + "\n".join(f"{recs.index(r) + 1}. {r.label}: {r.why}." for r in missing)
            parts.append(tail)
            yield TurnEvent("text", text=tail)
        if action.kind == "recommend" and recs and not cancelled and not degraded and self.config.follow_up:
            question = follow_up(self.prompts, self.config.prompt_set, state, domain=self.config.domain,
                                 item_noun=self.config.item_noun)
            if question:
                tail = ("" if "".join(parts).endswith("\n") or not parts else "\n") + question
                parts.append(tail)
                yield TurnEvent("text", text=tail)
        if not "".join(parts).strip() and not cancelled:
            tail = self._fallback_text(action, state)
            parts.append(tail)
            yield TurnEvent("text", text=tail)

        reply = "".join(parts).strip()
        if action.kind == "ask":
            state.record_question(action.slot, reply)
        elif action.kind == "answer":
            state.record_answer(action.question, action.item_id)
        elif action.kind == "chitchat":
            state.record_chitchat()
        timings["first_text_s"] = first if first is not None else time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - t0
        result = TurnResult(action=action.kind, reason=action.reason, text=reply, recommendations=recs,
                            understood=u.to_dict(), dropped_sentences=dropped,
                            cancelled=cancelled, degraded=degraded, timings=timings)
        yield TurnEvent("done", result=result)

    # -- understanding --------------------------------------------------------------------------

    def understand(self, state: SessionState, text: str, cancel: threading.Event | None = None) -> Understanding:
        """The rules' reading of ``text``, completed by the LLM where they found nothing (see
        :class:`bot.understanding.llm_step.LLMReader`)."""
        u = self.understander.parse(text, state)
        reader = LLMReader(self.llm, self.prompts, self.understander.vocab, prompt_set=self.config.prompt_set,
                           domain=self.config.domain)
        u = reader.read(u, state, self.config.llm_understanding, cancel)
        if starts_new_topic(state, u, self.understander.vocab.items):  # applied by ``state.apply``
            log.info("liked %s fit none of the held genres / years: a new topic", u.liked_ids)
            u.new_topic = True
        return u

    # -- prompts --------------------------------------------------------------------------------

    def _label(self, item_id: str) -> str:
        it = self.catalogue.get(item_id)
        return it.label if it else item_id

    def _segments(self, state: SessionState, text: str, action: Action, recs: list[Recommendation]) -> list[_Segment]:
        """The LLM calls of a turn: one for a question, an answer or small talk; for recommendations one
        per item ("per_item", each framed by the item's label) or one for the whole list ("list")."""
        cfg = self.config
        pset = cfg.prompt_set
        system = self.prompts.get("system", set=pset).render(bot_name=cfg.bot_name, domain=cfg.domain,
                                                             item_noun=cfg.item_noun)
        known = state.known_lines(self._label)

        def msgs(body: list[dict[str, str]]) -> list[ChatMessage]:
            return [ChatMessage(**m) for m in (*system, *body)]

        def gen(tokens: int, stop: list[str] | None = None) -> GenerationConfig:
            return GenerationConfig(max_tokens=tokens, temperature=cfg.temperature, seed=cfg.seed, stop=stop or [])

        def card(r: Recommendation) -> dict[str, Any]:
            return {"label": r.label, "facts": r.facts, "reasons": r.reasons, "genres": r.genres}

        item = self.catalogue.get(action.item_id) if action.item_id else None
        fixed = fixed_reply(self.prompts, pset, state, action, self.understander.vocab, item, domain=cfg.domain,
                            item_noun=cfg.item_noun, fixed_questions=cfg.fixed_questions)
        if fixed:
            return [_Segment([], gen(1), [action.item_id] if action.item_id else [], text=fixed, trusted=True)]
        if action.kind == "ask":
            body = self.prompts.get("elicit", set=pset).render(
                slot=action.slot or "genre", user_message=text, known=known,
                asked_before=state.asked_questions[-3:], domain=cfg.domain, item_noun=cfg.item_noun)
            return [_Segment(msgs(body), gen(cfg.question_tokens), [])]
        if action.kind == "recommend" and recs:
            allowed = [r.id for r in recs]
            if cfg.explain == "reasons":
                lang = state_language(state)
                exps = [self.explainer.explain(it, state, lang) for r in recs if (it := self.catalogue.get(r.id))]
                return [_Segment([], gen(1), allowed, text=self.explainer.reply(exps, lang))]
            if cfg.explain == "per_item":
                tpl = self.prompts.get("recommend_item", set=pset)
                return [
                    _Segment(msgs(tpl.render(item=card(r), user_message=text, item_noun=cfg.item_noun)),
                             gen(cfg.item_tokens, stop=["\n"]), allowed, label_prefix=f"{n}. {r.label}: ", title=r.title, suffix="\n",
                             fallback=f"{n}. {r.label}: {r.why}.")
                    for n, r in enumerate(recs, 1)
                ]
            body = self.prompts.get("recommend", set=pset).render(
                items=[card(r) for r in recs], user_message=text, known=known, domain=cfg.domain,
                item_noun=cfg.item_noun)
            return [_Segment(msgs(body), gen(cfg.max_tokens), allowed)]
        if action.kind == "answer" and action.item_id and (item := self.catalogue.get(action.item_id)):
            body = self.prompts.get("answer", set=pset).render(
                user_message=text, item={"label": item.label, "facts": _telling_facts(item.facts),
                                         "genres": list(item.genres), "people": list(item.people[:6]),
                                         "text": item.text},
                item_noun=cfg.item_noun)
            return [_Segment(msgs(body), gen(cfg.max_tokens), [action.item_id])]
        body = self.prompts.get("chitchat", set=pset).render(user_message=text, known=known, domain=cfg.domain)
        return [_Segment(msgs(body), gen(cfg.question_tokens * 2), [])]

    def _fallback_text(self, action: Action, state: SessionState) -> str:
        """Plain text when the model produced nothing usable (failed, or every sentence was dropped)."""
        cfg, lang = self.config, state.language or "en"
        if action.kind == "recommend":
            return render(self.prompts, "cant", cfg.prompt_set, language=lang, topic="no_results", domain=cfg.domain)
        if action.kind == "ask":
            return render(self.prompts, "ask_fixed", cfg.prompt_set, language=lang, slot="genre", domain=cfg.domain,
                          item_noun=cfg.item_noun)
        return render(self.prompts, "ask_fixed", cfg.prompt_set, language=lang, slot="greeting", domain=cfg.domain,
                      item_noun=cfg.item_noun)
