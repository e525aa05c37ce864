"""The small-talk agent: greetings, thanks, goodbyes and anything that needs no tool.

START → model ─(tool calls: tools_condition)→ tools → model …
              └─(answer)──────────────────────────────────→ END

It has no tools; its `tools` node still answers a call the model makes up with an error.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph

from graph.agent import Agent, agent_model, agent_tools
from graph.state import AgentState
from prompts import PromptSet
from tools.context import TurnContext

TOOLS: list[BaseTool] = []


def build(model: BaseChatModel, prompts: PromptSet) -> Agent:
    """The smalltalk agent as a compiled subgraph, to be added as the parent graph's `smalltalk` node."""
    g = StateGraph(AgentState, context_schema=TurnContext)
    g.add_node("model", agent_model("smalltalk", TOOLS, model, prompts), destinations=("tools", END))
    g.add_node("tools", agent_tools(TOOLS))
    g.add_edge(START, "model")
    g.add_edge("tools", "model")
    # no checkpoints of its own: the parent's end-of-turn checkpoint holds everything it wrote, and nothing in
    # it interrupts (the handoff pause is the parent's)
    return g.compile(name="smalltalk", checkpointer=False)
