"""Request and response bodies of the OpenAI-compatible routes (:mod:`bot.faces.api.openai_compat`).

They follow OpenAI's chat completions API (unknown request fields are accepted and ignored); recbot's
own additions -- the structured recommendations, the session id, the action and timings -- are extra
fields that OpenAI clients ignore.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.faces.api.models import RecommendationOut


class ContentPart(BaseModel):
    type: str
    text: str | None = None

    model_config = ConfigDict(extra="allow")


class ChatMessageIn(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    model_config = ConfigDict(extra="allow")

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool | None = None

    model_config = ConfigDict(extra="allow")


class ChatCompletionRequest(BaseModel):
    """The OpenAI request body. Sampling options (temperature, top_p, max_tokens…) are accepted and
    ignored: the server's settings decide them. Only the last ``user`` message is read; recbot keeps
    the conversation itself, keyed by ``user`` or the ``X-Session-Id`` header."""

    model: str = Field(description="a catalogue name served here (GET /v1/models lists them)")
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    user: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="your end user's id: one recbot session per user and model",
    )
    n: int | None = Field(None, ge=1, le=1, description="only one choice is produced")
    stream_options: StreamOptions | None = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"model": "movies", "messages": [{"role": "user", "content": "a funny 90s comedy please"}]},
                {
                    "model": "movies",
                    "user": "customer-42",
                    "stream": True,
                    "messages": [{"role": "user", "content": "something like Alien"}],
                },
            ]
        },
    )


class AssistantMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    recommendations: list[RecommendationOut] = Field(
        default_factory=list, description="recbot extension: the structured cards"
    )


class ChoiceOut(BaseModel):
    index: int = 0
    message: AssistantMessageOut
    finish_reason: str = "stop"
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChoiceOut]
    session_id: str = Field(description="recbot extension: the session this turn ran in")
    recommendations: list[RecommendationOut] = Field(default_factory=list, description="recbot extension")
    recbot: dict[str, Any] = Field(
        default_factory=dict, description="recbot extension: action, reason, timings"
    )


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "recbot"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
