"""The payment agent: checkout summary, payment method (PIX, card, cash and change), placing the order, status.

START → model ─(tool calls: tools_condition)→ tools → model …
              └─(answer)──────────────────────────────────→ END

It places an order only after the customer confirmed the summary; totals are read inside the order
transaction, never from the model.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph

from graph.agent import Agent, agent_model, agent_tools
from graph.state import AgentState
from prompts import PromptSet
from tools.context import TurnContext
from tools.customers.tools import ADDRESS_TOOLS
from tools.orders.tools import PAYMENT_TOOLS

# where the order goes is settled at checkout: which saved address, "outro", or a corrected number
TOOLS = [*PAYMENT_TOOLS, *ADDRESS_TOOLS]


def build(model: BaseChatModel, prompts: PromptSet) -> Agent:
    """The payment agent as a compiled subgraph, to be added as the parent graph's `payment` node."""
    g = StateGraph(AgentState, context_schema=TurnContext)
    g.add_node("model", agent_model("payment", TOOLS, model, prompts), destinations=("tools", END))
    g.add_node("tools", agent_tools(TOOLS))
    g.add_edge(START, "model")
    g.add_edge("tools", "model")
    # no checkpoints of its own: the parent's end-of-turn checkpoint holds everything it wrote, and nothing in
    # it interrupts (the handoff pause is the parent's)
    return g.compile(name="payment", checkpointer=False)
