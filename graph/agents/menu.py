"""The menu agent: dishes, diets and allergens, prices, opening hours and the delivery fee.

START → model ─(tool calls: tools_condition)→ tools → model …
              └─(answer)──────────────────────────────────→ END

Read-only: it looks things up and answers; putting items in the cart is the cart agent's job.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph

from graph.agent import Agent, agent_model, agent_tools
from graph.state import AgentState
from prompts import PromptSet
from tools.context import TurnContext
from tools.menu.tools import MENU_TOOLS as TOOLS


def build(model: BaseChatModel, prompts: PromptSet) -> Agent:
    """The menu agent as a compiled subgraph, to be added as the parent graph's `menu` node."""
    g = StateGraph(AgentState, context_schema=TurnContext)
    g.add_node("model", agent_model("menu", TOOLS, model, prompts), destinations=("tools", END))
    g.add_node("tools", agent_tools(TOOLS))
    g.add_edge(START, "model")
    g.add_edge("tools", "model")
    # no checkpoints of its own: the parent's end-of-turn checkpoint holds everything it wrote, and nothing in
    # it interrupts (the handoff pause is the parent's)
    return g.compile(name="menu", checkpointer=False)
