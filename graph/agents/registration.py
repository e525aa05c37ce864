"""The registration agent: name, delivery address and e-mail of a new customer, and address changes.

START → model ─(tool calls: tools_condition)→ tools → model …
              └─(answer)──────────────────────────────────→ END

The router sends checkout here first while the customer isn't registered.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph

from graph.agent import Agent, agent_model, agent_tools
from graph.state import AgentState
from prompts import PromptSet
from tools.context import TurnContext
from tools.customers.tools import REGISTRATION_TOOLS
from tools.privacy.tools import PRIVACY_TOOLS

# the customer's LGPD requests (export, erasure) are registration business: never the cart's
TOOLS = [*REGISTRATION_TOOLS, *PRIVACY_TOOLS]


def build(model: BaseChatModel, prompts: PromptSet) -> Agent:
    """The registration agent as a compiled subgraph, to be added as the parent graph's `registration` node."""
    g = StateGraph(AgentState, context_schema=TurnContext)
    g.add_node("model", agent_model("registration", TOOLS, model, prompts), destinations=("tools", END))
    g.add_node("tools", agent_tools(TOOLS))
    g.add_edge(START, "model")
    g.add_edge("tools", "model")
    # no checkpoints of its own: the parent's end-of-turn checkpoint holds everything it wrote, and nothing in
    # it interrupts (the handoff pause is the parent's)
    return g.compile(name="registration", checkpointer=False)
