"""A subgraph: a small tool-calling agent with its own prompt and only its own tools.

START → agent ─(tool calls)→ tools → agent … ─(answer)→ END
              └(too many steps)→ give_up → END
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

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


def _model_calls_this_turn(messages: Sequence[AnyMessage]) -> int:
    return sum(isinstance(m, AIMessage) for m in messages[current_turn_start(messages) :])


def build_agent(
    name: Intent, tools: Sequence[BaseTool], model: BaseChatModel, prompts: PromptSet
) -> CompiledStateGraph[ConversationState, TurnContext, ConversationState, ConversationState]:
    """Compile the subgraph `name` around `tools`."""
    bound = model.bind_tools(list(tools)) if tools else model

    async def agent(state: ConversationState, runtime: Runtime[TurnContext]) -> dict[str, list[AnyMessage]]:
        system = prompts.system(name, state.locale, **prompt_context(state, runtime.context))
        reply = await bound.ainvoke([SystemMessage(system), *model_window(state.messages)])
        assert isinstance(reply, AIMessage)
        reply.name = name
        return {"messages": [reply]}

    async def give_up(state: ConversationState) -> dict[str, list[AnyMessage]]:
        text = prompts.reply("fallback.not_understood", state.locale)
        return {"messages": [AIMessage(text, name=name, response_metadata={"comanda_understood": False})]}

    async def after_agent(state: ConversationState) -> str:
        last = state.messages[-1]
        if isinstance(last, AIMessage) and last.tool_calls:
            return "tools"
        return END

    async def after_tools(state: ConversationState) -> str:
        return "give_up" if _model_calls_this_turn(state.messages) >= MAX_MODEL_CALLS else "agent"

    g = StateGraph(ConversationState, context_schema=TurnContext)
    g.add_node("agent", agent)
    g.add_node("tools", ToolNode(list(tools), handle_tool_errors=_tool_error))
    g.add_node("give_up", give_up)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", after_agent, ["tools", END])
    g.add_conditional_edges("tools", after_tools, ["agent", "give_up"])
    g.add_edge("give_up", END)
    # no checkpointer: the agent never interrupts, and inheriting the parent's made every subgraph run load and
    # write checkpoints of its own (≈12 reads and 5 writes a turn instead of 2 and 1)
    return g.compile(name=name, checkpointer=False)


def _tool_error(exc: Exception) -> str:
    # argument validation failures (a model sending qty="lots") come here; tools themselves never raise
    from tools.results import ToolError

    return ToolError(error="invalid_field", message=f"invalid arguments: {exc}").model_dump_json()


def tool_results_this_turn(messages: Sequence[AnyMessage]) -> list[ToolMessage]:
    """The tool messages produced in the current turn."""
    return [m for m in messages[current_turn_start(messages) :] if isinstance(m, ToolMessage)]
