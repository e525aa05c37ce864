"""What the offline model reads from its input: the tools it was given, the prompt's JSON context,
this turn's customer text, and the tool calls and results of this turn so far."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

_CONTEXT_BLOCK = re.compile(r"```json\s*(\{.*?\})\s*```", re.DOTALL)


@dataclass
class ToolExchange:
    """A tool call of this turn and its parsed result (empty dict until the result arrives)."""

    name: str
    args: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The result's `kind` discriminator ("error", "cart", ...)."""
        return str(self.result.get("kind", ""))

    @property
    def ok(self) -> bool:
        """A successful result (not a ToolError)."""
        return bool(self.result) and self.kind != "error"


@dataclass
class TurnView:
    """The offline model's reading of one call."""

    tools: set[str]
    context: dict[str, Any]
    text: str
    exchanges: list[ToolExchange]
    prompt_tokens: int
    # what the bot said last before this turn: short answers ("não", "100") answer its question
    last_reply: str = ""
    # the customer's messages before this turn, newest first: what an elliptical "e em Moema?" continues
    earlier: tuple[str, ...] = ()

    @property
    def locale(self) -> str:
        """The conversation's language."""
        return str(self.context.get("locale") or "pt-BR")

    @property
    def acting(self) -> bool:
        """No tool has answered yet this turn: the model must decide what to do."""
        return not self.exchanges

    def calls(self, name: str) -> list[ToolExchange]:
        """This turn's exchanges with the tool `name`."""
        return [e for e in self.exchanges if e.name == name]


def read(messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]]) -> TurnView:
    """Build the view from the model input."""
    names = {str(t.get("function", {}).get("name") or t.get("name") or t.get("title") or "") for t in tools}
    context: dict[str, Any] = {}
    for m in messages:
        if isinstance(m, SystemMessage):
            blocks = _CONTEXT_BLOCK.findall(m.text)
            if blocks:
                try:
                    context = json.loads(blocks[-1])
                except ValueError:
                    context = {}
    start = len(messages)
    while start > 0 and not isinstance(messages[start - 1], HumanMessage):
        start -= 1
    first = start
    while first > 0 and isinstance(messages[first - 1], HumanMessage):
        first -= 1
    text = "\n".join(m.text for m in messages[first:start] if m.text)
    exchanges: list[ToolExchange] = []
    by_id: dict[str, ToolExchange] = {}
    for m in messages[start:]:
        if isinstance(m, AIMessage):
            for tc in m.tool_calls:
                ex = ToolExchange(tc["name"], dict(tc["args"]))
                exchanges.append(ex)
                by_id[tc["id"] or ""] = ex
        elif isinstance(m, ToolMessage) and m.tool_call_id in by_id:
            try:
                data = json.loads(m.text)
            except ValueError:
                data = {"kind": "error", "error": "internal", "message": m.text}
            by_id[m.tool_call_id].result = data if isinstance(data, dict) else {"kind": "value", "value": data}
    prompt_tokens = sum(_words(m) for m in messages)
    last_reply = next(
        (m.text for m in reversed(messages[:first]) if isinstance(m, AIMessage) and not m.tool_calls and m.text), ""
    )
    earlier = tuple(m.text for m in reversed(messages[:first]) if isinstance(m, HumanMessage) and m.text)
    return TurnView(
        tools=names,
        context=context,
        text=text,
        exchanges=exchanges,
        prompt_tokens=prompt_tokens,
        last_reply=last_reply,
        earlier=earlier,
    )


def _words(message: BaseMessage) -> int:
    # the content itself when it is a plain string: `.text` rebuilds it on every access (the system prompt is long)
    content = message.content
    return _count_words(content) if isinstance(content, str) else _count_words(message.text)


@lru_cache(maxsize=4096)
def _count_words(text: str) -> int:
    # every model call counts the whole window again; the earlier messages are the same texts call after call
    return len(text.split())
