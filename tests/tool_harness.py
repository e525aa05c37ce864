"""Run real tools the way the graph does: a ToolNode in a one-node StateGraph, with our state and context."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode

from graph.state import ConversationState
from tools.context import TurnContext

_calls = 0


async def call_tool(
    tools: Sequence[BaseTool], name: str, args: dict[str, Any], *, state: ConversationState, ctx: TurnContext
) -> tuple[ConversationState, list[ToolMessage]]:
    """Call one tool through a ToolNode; returns the state after its updates and the tool messages it produced."""
    global _calls
    _calls += 1
    call_id = f"call-{_calls}"
    builder = StateGraph(ConversationState, context_schema=TurnContext)
    builder.add_node("tools", ToolNode(list(tools)))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile()
    ai = AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}])
    values = {field: getattr(state, field) for field in ConversationState.model_fields}
    values["messages"] = [*state.messages, ai]
    out = await graph.ainvoke(values, context=ctx)
    new_state = ConversationState.model_validate(out)
    produced = [m for m in new_state.messages if isinstance(m, ToolMessage) and m.tool_call_id == call_id]
    return new_state, produced


def result(messages: list[ToolMessage]) -> dict[str, Any]:
    """The JSON result of the (single) tool message."""
    assert len(messages) == 1, messages
    content = messages[0].content
    assert isinstance(content, str)
    parsed: dict[str, Any] = json.loads(content)
    return parsed
