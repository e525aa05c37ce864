"""The agents, one compiled subgraph each, added as nodes of the conversation graph (graph/graph.py)."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.language_models import BaseChatModel

from graph.agent import Agent
from graph.agents import cart, handoff, menu, payment, registration, smalltalk
from graph.state import Intent
from prompts import PromptSet

BUILDERS: dict[Intent, Callable[[BaseChatModel, PromptSet], Agent]] = {
    "menu": menu.build,
    "cart": cart.build,
    "registration": registration.build,
    "payment": payment.build,
    "handoff": handoff.build,
    "smalltalk": smalltalk.build,
}
