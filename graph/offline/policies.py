"""The offline model's decisions, one policy per subgraph (recognised by the tools it was bound to).

Each policy either acts (picks tool calls from the customer's words and the JSON context) or, once tools
have answered, responds (turns their typed results into the prompt set's sentences). Amounts in replies are
always the tools' `*_text` fields: this model never computes money.
"""

from __future__ import annotations

from collections.abc import Callable

from graph.offline.policy.cart import cart
from graph.offline.policy.chat import handoff, smalltalk
from graph.offline.policy.common import Decision, Say
from graph.offline.policy.menu import menu
from graph.offline.policy.payment import payment
from graph.offline.policy.registration import registration
from graph.offline.policy.router import route
from graph.offline.view import TurnView
from prompts import PromptSet

__all__ = ["Decision", "Say", "decide"]


def decide(view: TurnView, prompts: PromptSet) -> Decision:
    """Dispatch on the bound tools: each subgraph's model sees only its own tools."""
    say = Say(prompts, view.locale)
    tools = view.tools
    policy: Callable[[TurnView, Say], Decision]
    if "RouteChoice" in tools:
        policy = route
    elif "search_menu" in tools:
        policy = menu
    elif "add_to_cart" in tools:
        policy = cart
    elif "checkout_summary" in tools:
        # before registration's: the checkout has the address tools too (update_registration among them)
        policy = payment
    elif "update_registration" in tools:
        policy = registration
    elif "request_human" in tools:
        policy = handoff
    else:
        policy = smalltalk
    return policy(view, say)
