"""Request and response bodies of the HTTP API, with the examples shown in the OpenAPI document.

These are the wire contract: field names and meanings stay stable; new fields may be added. The
turn's own result types (:class:`~bot.chat_service.Recommendation`,
:class:`~bot.chat_service.TurnResult`) are converted here, so the API does not change shape when the
engine's internals do. The bodies of the OpenAI-compatible routes are in :mod:`bot.faces.api.openai_models`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.chat_service import Recommendation, TurnResult

MetaValue = str | int | float | bool | None

# ------------------------------------------------------------------------------------------- errors


class ErrorBody(BaseModel):
    code: str = Field(
        description="stable machine-readable code, e.g. session_not_found, text_too_long",
        examples=["session_not_found"],
    )
    message: str = Field(description="what went wrong, for a person", examples=["no session 'abc123'"])
    details: list[dict[str, Any]] | None = Field(None, description="per-field problems of an invalid request")


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer has this body."""

    error: ErrorBody

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"error": {"code": "session_not_found", "message": "no session '0b5e…'"}},
            ]
        }
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry documenting error statuses of a route."""
    text = {
        400: "malformed JSON",
        401: "missing or invalid API key",
        404: "not found",
        409: "conflict",
        413: "request body too large",
        422: "invalid request",
        429: "rate limit exceeded (see Retry-After)",
        503: "not ready yet (models loading)",
    }
    return {s: {"model": ErrorResponse, "description": text.get(s, "error")} for s in statuses}


# -------------------------------------------------------------------------------------- recommendations


_REC_EXAMPLE = {
    "id": "27411",
    "title": "Mallrats",
    "year": 1995,
    "label": "Mallrats (1995)",
    "genres": ["comedy"],
    "facts": {"runtime": 94, "rt_rating": 5.4},
    "why": "genre: comedy; years 1990-1999",
    "reasons": ["genre: comedy", "years 1990-1999"],
    "score": 0.0341,
}


class RecommendationOut(BaseModel):
    """One recommended item (a card): what to show, and why it was chosen."""

    id: str = Field(description="catalogue item id; use it for feedback")
    title: str
    year: int | None = None
    label: str = Field(description="how to name the item to a person: title (year)")
    genres: list[str] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict, description="a few telling catalogue facts")
    why: str = Field(
        description="a one-line reason: the person's wishes this item meets, checked against its facts"
    )
    reasons: list[str] = Field(default_factory=list, description="every matching reason")
    score: float
    people: dict[str, list[str]] = Field(
        default_factory=dict, description="names by role (director, writer, cast, ingredient), where known"
    )
    plot: str | None = Field(None, description="one sentence of plot, where the catalogue has one")

    model_config = ConfigDict(json_schema_extra={"examples": [_REC_EXAMPLE]})

    @classmethod
    def of(cls, rec: Recommendation | dict[str, Any]) -> RecommendationOut:
        return cls.model_validate(rec.to_dict() if isinstance(rec, Recommendation) else rec)


# --------------------------------------------------------------------------------------------- sessions


class CreateSessionRequest(BaseModel):
    catalogue: str | None = Field(
        None, description="catalogue to recommend from (default: the server's first)"
    )
    meta: dict[str, MetaValue] | None = Field(
        None, max_length=32, description="your own scalar fields kept with the session (e.g. a ticket id)"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"catalogue": "movies", "meta": {"ticket": "CS-1042", "channel": "web"}},
            ]
        },
    )


class SessionCreated(BaseModel):
    session_id: str
    catalogue: str
    created: float = Field(description="unix time")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_id": "6f1c0d2b9a5e4f43a3f0c2b1e9d8a7c6",
                    "catalogue": "movies",
                    "created": 1760000000.0,
                },
            ]
        }
    )


class MessageOut(BaseModel):
    id: int | None
    role: Literal["user", "assistant"] | str
    text: str
    created: float
    action: str | None = Field(None, description="assistant turns: ask | recommend | answer | chitchat")
    recommendations: list[RecommendationOut] = Field(default_factory=list)
    cancelled: bool = False
    degraded: str | None = None


class FeedbackOut(BaseModel):
    id: int | None
    kind: str
    item_id: str
    created: float


class SessionDetail(BaseModel):
    session_id: str
    catalogue: str
    created: float
    updated: float
    meta: dict[str, Any] = Field(default_factory=dict, description="the meta given at creation")
    state: dict[str, Any] = Field(
        description="what recbot knows: liked/disliked/seen ids, genres, constraints…"
    )
    messages: list[MessageOut]
    feedback: list[FeedbackOut]


class Deleted(BaseModel):
    session_id: str
    deleted: bool = True


# --------------------------------------------------------------------------------------------- messages


# The characters str.strip() removes: a message made only of them is empty (422 empty_text). The
# document states the rule as a pattern (a match = one character that is not blank); the server
# checks it with str.strip(), and tests/robustness/test_schemathesis.py keeps the two in agreement.
BLANK_CHARS = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NON_BLANK = f"[^{BLANK_CHARS}]"


class MessageRequest(BaseModel):
    text: str = Field(
        description="what the person wrote: not blank; at most the server's max_text_chars characters",
        json_schema_extra={"pattern": NON_BLANK},
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "I'd like a funny comedy from the 90s"},
                {"text": "something like Alien but less gory"},
            ]
        },
    )


class MessageReply(BaseModel):
    """recbot's answer to one message."""

    session_id: str
    text: str = Field(description="the reply; names only the recommended items")
    action: str = Field(description="ask | recommend | answer | chitchat")
    reason: str = Field(description="why the policy chose that action")
    recommendations: list[RecommendationOut] = Field(default_factory=list)
    cancelled: bool = False
    degraded: str | None = Field(None, description="set when the LLM failed and a plain fallback was used")
    timings: dict[str, float] = Field(default_factory=dict, description="seconds per stage")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_id": "6f1c0d2b9a5e4f43a3f0c2b1e9d8a7c6",
                    "text": "You might enjoy Mallrats (1995), a slacker comedy…",
                    "action": "recommend",
                    "reason": "enough is known",
                    "recommendations": [_REC_EXAMPLE],
                    "cancelled": False,
                    "degraded": None,
                    "timings": {"understand_s": 0.004, "total_s": 2.1},
                }
            ]
        }
    )

    @classmethod
    def of(cls, session_id: str, result: TurnResult) -> MessageReply:
        return cls(
            session_id=session_id,
            text=result.text,
            action=result.action,
            reason=result.reason,
            recommendations=[RecommendationOut.of(r) for r in result.recommendations],
            cancelled=result.cancelled,
            degraded=result.degraded,
            timings={k: round(v, 4) for k, v in result.timings.items()},
        )


# --------------------------------------------------------------------------------------------- feedback


class FeedbackRequest(BaseModel):
    item_id: str = Field(
        min_length=1, max_length=200, description="a catalogue item id (from a recommendation)"
    )
    kind: Literal["like", "dislike", "seen"]

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"item_id": "27411", "kind": "like"},
                {"item_id": "53703", "kind": "seen"},
            ]
        },
    )


class FeedbackAck(BaseModel):
    session_id: str
    item_id: str
    kind: str
    label: str = Field(description="the item's title (year)")
    liked_ids: list[str]
    disliked_ids: list[str]
    seen_ids: list[str]


def sse_event_schema(events: list[str] | None = None) -> dict[str, Any]:
    """The OpenAPI ``schema`` of a ``text/event-stream`` response: it describes one event (OpenAPI
    3.1 has no stream semantics; this is how tools such as schemathesis read it). ``data`` is text,
    JSON in recbot's streams; ``events`` are the event names sent (None: events have no name)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"data": {"type": "string", "description": "the event's payload (JSON)"}},
        "required": ["data"],
    }
    if events:
        schema["properties"]["event"] = {"type": "string", "enum": list(events)}
        schema["required"].append("event")
    return schema


# ------------------------------------------------------------------------------------------- health


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class CatalogueStatus(BaseModel):
    items: int
    # which ranker orders the candidates: "learned" (trained for this catalogue), "transfer" (the packaged
    # ranker for any catalogue) or "none" (retrieval scores only)
    ranker: Literal["learned", "transfer", "none"] = "none"
    llm: str
    llm_state: Literal["ready", "starting", "restarting", "failed", "stopped"] = "ready"
    llm_restarts: int = 0


class Readiness(BaseModel):
    """``degraded``: serving, with a fallback (a Chroma server that does not answer: the in-memory
    index answers instead; a local model server that crashed and is being restarted: replies are
    grounded lines without the LLM meanwhile); ``error`` says what is wrong."""

    status: Literal["ready", "degraded", "loading", "failed"]
    catalogues: dict[str, CatalogueStatus] = Field(default_factory=dict)
    error: str | None = None
