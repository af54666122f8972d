"""recbot inside LangChain: the catalogue as a retriever, a conversation turn as a Runnable and a tool.

- :class:`RecbotRetriever` -- a ``BaseRetriever``: catalogue search (embeddings + BM25 + filters) for
  RAG chains. Each ``Document`` is one item: ``page_content`` is the item's text, ``metadata`` holds
  id, title, year, label, genres, people, facts, score and the reasons it matched.
- :class:`RecbotChat` -- a ``Runnable`` for one recommendation turn with memory:
  ``{"text": ..., "session_id": ...}`` (or a plain string) in, a reply dict out (session id, text,
  action, recommendations). ``stream`` yields the engine's events as dicts.
  :meth:`RecbotChat.as_tool` makes it a tool an agent can call.

Both work in-process on the same components as the API (``bot.services``); nothing leaves the
machine. To use a running recbot server from LangChain instead, point ``ChatOpenAI`` at it
(``base_url="http://host:port/v1", model="<catalogue>"``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from langchain_core._api import LangChainBetaWarning
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config, get_callback_manager_for_config
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from bot.chat_service import ChatService
from retrieval.schema import Candidate, Query, Range


def candidate_document(candidate: Candidate) -> Document:
    """One ranked item as a LangChain ``Document`` (``id`` = the catalogue item id)."""
    it = candidate.item
    metadata = {
        "id": it.id,
        "title": it.title,
        "year": it.year,
        "label": it.label,
        "genres": list(it.genres),
        "people": list(it.people),
        "facts": dict(it.facts),
        "score": round(candidate.score, 6),
        "reasons": list(candidate.reasons),
    }
    return Document(page_content=it.text, metadata=metadata, id=it.id)


class RecbotRetriever(BaseRetriever):
    """Catalogue items for a free-text query, best first, with fixed optional filters.

    ``retriever`` is a :class:`retrieval.retriever.Retriever` (see :meth:`from_settings`). Excluded
    genres and people are hard filters; wanted ones boost and explain the ranking.
    """

    retriever: Any = Field(description="a retrieval.retriever.Retriever")
    k: int = Field(5, ge=1, le=100)
    genres: list[str] = Field(default_factory=list)
    exclude_genres: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    exclude_people: list[str] = Field(default_factory=list)
    years: tuple[int | None, int | None] | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @classmethod
    def from_settings(cls, settings: Any, catalogue: str | None = None, **fields: Any) -> RecbotRetriever:
        """Over the ingested catalogue ``catalogue`` (default ``settings.catalogue``)."""
        from bot import services

        return cls(retriever=services.retriever(settings, catalogue or settings.catalogue), **fields)

    def _query(self, text: str) -> Query:
        year = Range(*self.years) if self.years else None
        return Query(
            text=text,
            genres=list(self.genres),
            people=list(self.people),
            unwanted_genres=list(self.exclude_genres),
            unwanted_people=list(self.exclude_people),
            year=year,
            k=self.k,
        )

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [candidate_document(c) for c in self.retriever.retrieve(self._query(query))]


class TurnInput(BaseModel):
    """One message to recbot."""

    text: str = Field(description="what the person said, e.g. 'a funny 90s comedy, nothing scary'")
    session_id: str | None = Field(
        None,
        description="the session_id of an earlier reply, to continue that conversation; omit to start one",
    )


TOOL_DESCRIPTION = (
    "Recommend catalogue items in a conversation. Pass the person's wishes as `text` (likes, dislikes, "
    "genres, years, items they enjoyed) and the `session_id` from the previous result to continue. "
    "Returns the reply text, a session_id, and `recommendations` (id, label, why) chosen from the catalogue."
)


class RecbotChat(Runnable[TurnInput | dict | str, dict]):
    """A recommendation turn: input text (+ session id) -> reply dict.

    Input: a :class:`TurnInput`, a dict with its fields, or a plain string (a new session, unless the
    runnable was made with ``session_id=``). Output::

        {"session_id": str, "text": str, "action": "ask|recommend|answer|chitchat",
         "recommendations": [{"id", "title", "year", "label", "genres", "facts", "why", "reasons", "score",
                              "people", "plot"}],
         "cancelled": bool, "degraded": str | None}

    Messages and state are stored in the service's session store, exactly as for the HTTP API.
    """

    def __init__(self, service: ChatService, session_id: str | None = None, name: str = "recbot") -> None:
        self.service = service
        self.session_id = session_id
        self.name = name

    @classmethod
    def from_settings(cls, settings: Any, catalogue: str | None = None, **kwargs: Any) -> RecbotChat:
        from bot import services

        return cls(services.chat_service(settings, catalogue), **kwargs)

    # -- typing, for schemas and as_tool ---------------------------------------------------------

    @property
    def InputType(self) -> type[TurnInput]:  # noqa: N802 -- LangChain's name
        return TurnInput

    @property
    def OutputType(self) -> type[dict]:  # noqa: N802
        return dict

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        return TurnInput

    # -- running --------------------------------------------------------------------------------

    def _parse(self, value: TurnInput | dict | str) -> tuple[str, str]:
        if isinstance(value, str):
            value = TurnInput(text=value)
        elif isinstance(value, dict):
            value = TurnInput.model_validate(value)
        elif not isinstance(value, TurnInput):
            raise TypeError(f"RecbotChat takes a str, a dict or a TurnInput, not {type(value).__name__}")
        if not value.text.strip():
            raise ValueError("the message text is empty")
        sid = value.session_id or self.session_id or self.service.create_session({"via": "langchain"}).id
        return value.text, sid

    def _events(self, text: str, sid: str) -> Iterator[dict[str, Any]]:
        for event in self.service.stream(sid, text):
            if event.kind == "recommendations":
                yield {
                    "type": "recommendations",
                    "session_id": sid,
                    "recommendations": [r.to_dict() for r in event.recommendations],
                }
            elif event.kind == "text":
                yield {"type": "text", "session_id": sid, "text": event.text}
            elif event.kind == "done" and event.result is not None:
                yield {"type": "done", **_reply(sid, event.result)}

    def invoke(
        self, input: TurnInput | dict | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict:
        return self._call_with_config(self._run, input, config, run_type="chain")

    def _run(self, input: TurnInput | dict | str) -> dict:
        text, sid = self._parse(input)
        return _reply(sid, self.service.send(sid, text))

    def stream(
        self, input: TurnInput | dict | str, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[dict]:
        """Events as they happen: ``recommendations``, ``text`` pieces, then ``done`` (the reply dict)."""
        config = ensure_config(config)
        run = get_callback_manager_for_config(config).on_chain_start(None, input, name=self.get_name())
        try:
            text, sid = self._parse(input)
            final = None
            for event in self._events(text, sid):
                if event["type"] == "done":
                    final = event
                yield event
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end(final)

    def as_tool(
        self,
        args_schema: type[BaseModel] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        arg_types: dict[str, type] | None = None,
    ) -> BaseTool:
        """A tool for agents (name ``recommend`` unless given); it returns the reply dict."""
        with warnings.catch_warnings():  # Runnable.as_tool is marked beta in langchain-core 1.x
            warnings.simplefilter("ignore", LangChainBetaWarning)
            return super().as_tool(
                args_schema or TurnInput,
                name=name or "recommend",
                description=description or TOOL_DESCRIPTION,
                arg_types=arg_types,
            )


def _reply(sid: str, result: Any) -> dict[str, Any]:
    return {
        "session_id": sid,
        "text": result.text,
        "action": result.action,
        "recommendations": [r.to_dict() for r in result.recommendations],
        "cancelled": result.cancelled,
        "degraded": result.degraded,
    }
