"""What every agent subgraph is made of: the model node, the tools node, and the conversation window.

Each agent (graph/agents/) is the same small diagram with its own prompt and only its own tools:

START → model ─(tool calls: tools_condition)→ tools → model …
              └─(answer)──────────────────────────────────→ END

`model` routes with `Command(goto=...)`, deciding with `tools_condition` on the answer it just got.

`model` gives up with "I didn't understand" instead of calling the model again once it has called it
MAX_MODEL_CALLS times this turn, so a model that keeps calling tools can't loop the turn away.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Literal, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolCall, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.prebuilt.tool_node import ToolCallRequest, ToolInvocationError
from langgraph.runtime import Runtime
from langgraph.types import Command

from graph.context import prompt_context
from graph.run_context import turn_context
from graph.state import AgentState, Intent
from memory.db import UNAVAILABLE
from prompts import PromptSet
from tools.context import TurnContext
from tools.results import ToolError, internal_error

# an agent as the parent graph runs it: a compiled subgraph over the agent state, with the turn's context
Agent = CompiledStateGraph[AgentState, TurnContext, AgentState, AgentState]

MAX_MODEL_CALLS = 6
_INTERNAL = internal_error()
log = logging.getLogger(__name__)

# earlier turns are kept as plain text: their tool exchanges belong to other agents' tools
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


AfterModel = Literal["tools", "__end__"]


class ModelNode(Protocol):
    """An agent's `model` node as LangGraph calls it (the runtime carries the turn's context)."""

    # Runtime[Any]: a TurnContext from our callers, a ConversationContext on LangGraph Platform (graph/run_context.py)
    async def __call__(self, state: AgentState, *, runtime: Runtime[Any]) -> Command[AfterModel]: ...


def agent_model(name: Intent, tools: Sequence[BaseTool], model: BaseChatModel, prompts: PromptSet) -> ModelNode:
    """The `model` node of agent `name`: its system prompt over the conversation window, its tools bound."""
    bound = model.bind_tools(list(tools)) if tools else model

    async def call_model(state: AgentState, *, runtime: Runtime[Any]) -> Command[AfterModel]:
        messages = state["messages"]
        locale = state.get("locale") or "pt-BR"
        if _calls_this_turn(messages, name) >= MAX_MODEL_CALLS:
            text = prompts.reply("fallback.not_understood", locale)
            reply = AIMessage(text, name=name, response_metadata={"comanda_understood": False})
        else:
            system = prompts.system(name, locale, **prompt_context(state, await turn_context(runtime.context)))
            answer = await bound.ainvoke([SystemMessage(system), *model_window(messages)])
            assert isinstance(answer, AIMessage)
            answer.name = name
            reply = answer
        update = {"messages": [reply]}
        # tools_condition (the prebuilt tool-calls → tools, answer → END) decides on the new answer here: as a
        # conditional edge LangGraph would copy every channel and re-merge the message list just to evaluate it
        return Command(goto=tools_condition(update), update=update)

    return call_model


def agent_tools(tools: Sequence[BaseTool]) -> ToolNode:
    """The `tools` node: LangGraph's ToolNode; arguments that fail validation come back as a tool error, and a
    tool that raises is logged (with the conversation) and answered with an internal error the model apologises for,
    unless Postgres is unreachable: then the turn fails, so the queue retries it once Postgres is back.

    Even an agent without tools has one: a call the model makes up gets an error back, never an unanswered call.
    """
    # errors are sorted in our wrapper, not by ToolNode: whatever a wrapper raises, ToolNode hands to its error
    # handler whatever its type, so a Postgres outage would come back to the model as "invalid arguments"
    return ToolNode(list(tools), handle_tool_errors=False, awrap_tool_call=_log_failures)


def _invalid_arguments(call: ToolCall, exc: ToolInvocationError) -> ToolMessage:
    # a model sending qty="lots": it reads what was wrong and may try again
    content = ToolError(error="invalid_field", message=f"invalid arguments: {exc}").model_dump_json()
    return ToolMessage(content, tool_call_id=call["id"] or "", name=call["name"], status="error")


async def _log_failures(
    request: ToolCallRequest, execute: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]]
) -> ToolMessage | Command[Any]:
    context = request.runtime.context
    if context is not None and not isinstance(context, TurnContext):
        # a platform run: tools read the pool and the tenant from a TurnContext, never from the plain context
        request = replace(request, runtime=replace(request.runtime, context=await turn_context(context)))
    try:
        return await execute(request)
    except GraphBubbleUp:
        raise  # interrupts and parent commands are LangGraph's control flow, not failures
    except ToolInvocationError as exc:
        return _invalid_arguments(request.tool_call, exc)
    except UNAVAILABLE:
        raise  # Postgres is down: the turn fails and the queue retries it, rather than apologising for nothing
    except Exception:
        call = request.tool_call
        thread = getattr(request.runtime.context, "thread_id", None)
        # the customer gets an apology: whoever reads the logs must find why, in which conversation
        log.error("tool %s failed in conversation %s", call["name"], thread, exc_info=True)
        return ToolMessage(_INTERNAL, tool_call_id=call["id"] or "", name=call["name"], status="error")


def _calls_this_turn(messages: Sequence[AnyMessage], name: str) -> int:
    return sum(1 for m in messages[current_turn_start(messages) :] if isinstance(m, AIMessage) and m.name == name)
