"""An agent: a small tool-calling loop with its own prompt and only its own tools, run as one graph node.

agent ─(tool calls)→ tools → agent … ─(answer)→ done
      └(MAX_MODEL_CALLS calls and still calling tools)→ give up ("I didn't understand")

The loop lives inside one node instead of a subgraph of agent/tools nodes: each LangGraph step costs a task,
channel writes and a state copy, and the subgraph its own run; one node per turn measured 13 % less CPU for the
whole turn (README, Benchmarks). Tools still run through LangGraph's ToolNode, with the same injected runtime
and argument-error handling, and their state updates are applied between model calls as the graph would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from langgraph.types import Command

from graph.context import prompt_context
from graph.state import ConversationState, Intent
from prompts import PromptSet
from tools.context import TurnContext

MAX_MODEL_CALLS = 6
# earlier turns are kept as plain text: their tool exchanges belong to other subgraphs' tools
HISTORY_MESSAGES = 12


def current_turn_start(messages: Sequence[AnyMessage]) -> int:
    """Index of the first message of this turn: the start of the last block of customer messages."""
    i = len(messages)
    while i > 0 and not isinstance(messages[i - 1], HumanMessage):
        i -= 1
    while i > 0 and isinstance(messages[i - 1], HumanMessage):
        i -= 1
    return i


def model_window(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """Earlier turns as customer/bot text only, then this turn in full."""
    start = current_turn_start(messages)
    history = [
        m
        for m in messages[:start]
        if isinstance(m, HumanMessage) or (isinstance(m, AIMessage) and not m.tool_calls and m.content)
    ]
    return [*history[-HISTORY_MESSAGES:], *messages[start:]]


def _tool_error(exc: Exception) -> str:
    # argument validation failures (a model sending qty="lots") come here; tools themselves never raise
    from tools.results import ToolError

    return ToolError(error="invalid_field", message=f"invalid arguments: {exc}").model_dump_json()


def build_agent(
    name: Intent, tools: Sequence[BaseTool], model: BaseChatModel, prompts: PromptSet
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The agent node `name`: calls the model with its prompt, runs the tools it asks for, until it answers."""
    bound = model.bind_tools(list(tools)) if tools else model
    # even without tools: a call the model makes up gets a tool error back, never an unanswered call
    tool_node = ToolNode(list(tools), handle_tool_errors=_tool_error)

    async def run(state: ConversationState, runtime: Runtime[TurnContext], config: RunnableConfig) -> dict[str, Any]:
        update: dict[str, Any] = {}
        produced: list[AnyMessage] = []
        current = state
        for _ in range(MAX_MODEL_CALLS):
            system = prompts.system(name, current.locale, **prompt_context(current, runtime.context))
            reply = await bound.ainvoke([SystemMessage(system), *model_window(current.messages)])
            assert isinstance(reply, AIMessage)
            reply.name = name
            produced.append(reply)
            current = current.model_copy(update={"messages": [*current.messages, reply]})
            if not reply.tool_calls:
                return {**update, "messages": produced}
            changes, results = _tool_updates(await tool_node.ainvoke(current, config))
            produced.extend(results)
            update.update(changes)
            current = current.model_copy(update={**changes, "messages": [*current.messages, *results]})
        text = prompts.reply("fallback.not_understood", current.locale)
        produced.append(AIMessage(text, name=name, response_metadata={"comanda_understood": False}))
        return {**update, "messages": produced}

    run.__name__ = name
    return run


def _tool_updates(out: Any) -> tuple[dict[str, Any], list[AnyMessage]]:
    """ToolNode's output (a messages update, or Commands when tools change the state) as state changes plus the
    tool messages, in the order the tools answered."""
    changes: dict[str, Any] = {}
    messages: list[AnyMessage] = []
    for part in out if isinstance(out, list) else [out]:
        update = part.update if isinstance(part, Command) else part
        for key, value in (update or {}).items():
            if key == "messages":
                messages.extend(value)
            else:
                changes[key] = value
    return changes, messages
