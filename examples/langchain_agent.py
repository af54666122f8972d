"""recbot as LangChain building blocks, fully offline: a retriever, a chain, and tools an agent calls.

Nothing here needs a remote LLM or network access. recbot's own small local model writes the replies;
the "agent" is a fixed list of tool calls, exactly as a tool-calling chat model would emit them. With
such a model you would hand the same tools to it instead (``model.bind_tools([recommend, search])``).

    python examples/langchain_agent.py                        # your data dir; movies indexed on first use
    python examples/langchain_agent.py --model smollm2-135m   # the tiny model: fast, writes poorly
    python examples/langchain_agent.py --data-dir /tmp/recbot-demo --limit 300   # a small index, quickly
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import create_retriever_tool

from bot.faces.integrations.langchain import RecbotChat, RecbotRetriever
from bot.settings import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict = {"catalogue": args.catalogue}
    if args.data_dir:
        overrides["data_dir"] = Path(args.data_dir)
    if args.model:
        overrides["llm"] = {"model": args.model, "max_tokens": 80}
    return Settings(**overrides)


def ensure_index(settings: Settings, name: str, limit: int | None) -> None:
    from bot import services
    from bot.catalogues import ensure_indexed, ingest_catalogue

    if limit and services.catalogue_index(settings, name).manifest() is None:
        ingest_catalogue(settings, name, limit=limit, progress=False)
    ensure_indexed(settings, name)


def show_reply(reply: dict) -> str:
    lines = [f"[{reply['action']}] {reply['text']}"]
    lines += [f"  * {r['label']} (id {r['id']}): {r['why']}" for r in reply["recommendations"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--catalogue", default="movies")
    parser.add_argument("--data-dir", help="recbot data dir (default: settings)")
    parser.add_argument("--model", help="LLM model, e.g. smollm2-135m")
    parser.add_argument(
        "--limit", type=int, help="index only the first N items if the catalogue is not indexed"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    settings = settings_from(args)
    ensure_index(settings, args.catalogue, args.limit)

    # 1. The catalogue as a retriever: Documents with the item's metadata, for any RAG chain.
    search = RecbotRetriever.from_settings(settings, args.catalogue, k=3, exclude_genres=["horror"])
    print("== retriever: 'funny space adventure' (no horror)")
    for doc in search.invoke("funny space adventure"):
        meta = doc.metadata
        genres = ", ".join(meta["genres"][:3])
        print(f"  {meta['label']} [{genres}] score={meta['score']:.3f} why={meta['reasons']}")

    # 2. A chain: plain text in, recbot's turn in the middle, a formatted answer out.
    chat = RecbotChat.from_settings(settings, args.catalogue)
    chain = (
        RunnableLambda(lambda text: {"text": text})
        | chat
        | RunnableLambda(lambda reply: {"session_id": reply["session_id"], "answer": show_reply(reply)})
    )
    first = chain.invoke("I want a funny comedy from the 90s")
    print("\n== chain: 'I want a funny comedy from the 90s'")
    print(first["answer"])

    # 3. Tools, called the way an agent calls them (ToolCall in, ToolMessage out).
    recommend = chat.as_tool()
    search_tool = create_retriever_tool(
        search, "search_catalogue", "Look up catalogue items by description; returns their texts."
    )
    calls = [
        {
            "type": "tool_call",
            "id": "call_1",
            "name": recommend.name,
            "args": {"text": "more comedies from the 90s please", "session_id": first["session_id"]},
        },
        {"type": "tool_call", "id": "call_2", "name": search_tool.name, "args": {"query": "talking animals"}},
    ]
    tools = {recommend.name: recommend, search_tool.name: search_tool}
    print(f"\n== agent tools: {', '.join(tools)}")
    for call in calls:
        message = tools[call["name"]].invoke(call)
        assert isinstance(message, ToolMessage)
        print(f"-> {call['name']}({json.dumps(call['args'])})")
        if call["name"] == recommend.name:
            reply = json.loads(message.content)
            same = reply["session_id"] == first["session_id"]
            print(f"   session {reply['session_id']} (same as the chain's: {same})")
            print("   " + show_reply(reply).replace("\n", "\n   "))
        else:
            print("   " + message.content[:300].replace("\n", "\n   "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
