"""The cart agent: adds, changes and removes items, asks for a required choice, shows the cart.

START → model ─(tool calls: tools_condition)→ tools → model …
              └─(answer)──────────────────────────────────→ END

Prices come from the menu through its tools; a line waiting for a choice ("qual tamanho?") is
`pending` in the state until the customer answers.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph

from graph.agent import Agent, agent_model, agent_tools
from graph.state import AgentState
from prompts import PromptSet
from tools.cart.tools import CART_TOOLS as TOOLS
from tools.context import TurnContext


def build(model: BaseChatModel, prompts: PromptSet) -> Agent:
    """The cart agent as a compiled subgraph, to be added as the parent graph's `cart` node."""
    g = StateGraph(AgentState, context_schema=TurnContext)
    g.add_node("model", agent_model("cart", TOOLS, model, prompts), destinations=("tools", END))
    g.add_node("tools", agent_tools(TOOLS))
    g.add_edge(START, "model")
    g.add_edge("tools", "model")
    # no checkpoints of its own: the parent's end-of-turn checkpoint holds everything it wrote, and nothing in
    # it interrupts (the handoff pause is the parent's)
    return g.compile(name="cart", checkpointer=False)
