"""Routing: fast local classifier first, the chat model only when unsure; the decision as a Command (graph.py's
`router` node runs it once the turn is prepared)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

from graph.agent import current_turn_start
from graph.classifier import FastClassifier
from graph.context import prompt_context
from graph.language.followup import follow_up_subject
from graph.language.privacy import privacy_request
from graph.run_context import RunContext, turn_context
from graph.state import ConversationState, Intent, RouteDecision
from prompts import PromptSet
from tools.customers.address_tools import turn_pin

# a confident classification of another intent may pull the customer out of a question we asked them
_OVERRIDE_AWAITING = 0.9


class RouteChoice(BaseModel):
    """Classify the customer's latest message into one intent."""

    intent: Intent = Field(description="menu | cart | registration | payment | handoff | smalltalk")


def turn_text(state: ConversationState) -> str:
    """The customer's messages of this turn, joined (they often split one thought over several)."""
    start = current_turn_start(state.messages)
    parts = [m.text for m in state.messages[start:] if isinstance(m, HumanMessage)]
    return "\n".join(p for p in parts if p)


def _awaiting_intent(state: ConversationState) -> Intent | None:
    if state.pending is not None:
        return "cart"
    if not state.awaiting:
        return None
    head = state.awaiting.split(".", 1)[0]
    return head if head in ("menu", "cart", "registration", "payment", "handoff") else None  # type: ignore[return-value,unused-ignore]


def make_router(
    classifier: FastClassifier, model: BaseChatModel, prompts: PromptSet
) -> Callable[..., Awaitable[Command[Intent]]]:
    """The routing step, closed over its classifier and model."""
    structured = model.with_structured_output(RouteChoice)

    async def router(state: ConversationState, runtime: Runtime[RunContext]) -> Command[Intent]:
        text = turn_text(state)
        decision = await _decide(state, text, runtime.context)
        decision = _gate(state, decision)
        return Command(goto=decision.intent, update={"route": decision})

    async def _decide(state: ConversationState, text: str, context: RunContext) -> RouteDecision:
        ctx = await turn_context(context)
        if state.handoff:
            return RouteDecision(intent="handoff", confidence=1.0, decided_by="rule", reason="handoff in progress")
        if ctx.tenant.bot_paused:
            # the manager paused the bot (staff console): every conversation goes to a person
            return RouteDecision(intent="handoff", confidence=1.0, decided_by="rule", reason="bot paused")
        if privacy_request(text) is not None:
            # LGPD rights are the registration agent's, whatever the conversation was waiting for; the cart once
            # added "apague meus dados" as a menu item
            return RouteDecision(intent="registration", confidence=1.0, decided_by="rule", reason="privacy request")
        if turn_pin(state.messages[current_turn_start(state.messages) :]) is not None:
            # a shared location is an address: registration keeps it, whatever was asked before
            return RouteDecision(intent="registration", confidence=1.0, decided_by="rule", reason="location pin")
        fast = classifier.classify(text)
        waiting = _awaiting_intent(state)
        if waiting is not None:
            if fast and fast.intent != waiting and fast.intent == "handoff" and fast.confident:
                return RouteDecision(intent="handoff", confidence=fast.score, decided_by="fast", reason=fast.example)
            if fast and fast.intent != waiting and fast.score >= _OVERRIDE_AWAITING and fast.confident:
                return RouteDecision(intent=fast.intent, confidence=fast.score, decided_by="fast", reason=fast.example)
            return RouteDecision(intent=waiting, confidence=1.0, decided_by="rule", reason=f"awaiting {state.awaiting}")
        if state.intent == "menu" and follow_up_subject(text) is not None:
            # "e pra Vila Mariana?" after a menu answer is the same question for another place or item; the
            # examples alone read it as the answer to "qual o seu bairro?" (registration), and confidently
            return RouteDecision(
                intent="menu", confidence=1.0, decided_by="rule", reason="follow-up of a menu question"
            )
        if fast and fast.confident:
            return RouteDecision(intent=fast.intent, confidence=fast.score, decided_by="fast", reason=fast.example)
        system = prompts.system("router", state.locale, **prompt_context(dict(state), ctx))
        try:
            choice = await structured.ainvoke([SystemMessage(system), HumanMessage(text or "(vazio)")])
            intent: Intent = (
                choice.intent if isinstance(choice, RouteChoice) else RouteChoice.model_validate(choice).intent
            )
        except Exception:  # a model outage must not lose the turn: fall back to the best local guess
            intent = fast.intent if fast else "smalltalk"
            return RouteDecision(
                intent=intent, confidence=fast.score if fast else 0.0, decided_by="fast", reason="model failed"
            )
        return RouteDecision(intent=intent, confidence=fast.score if fast else 0.0, decided_by="model")

    return router


def _gate(state: ConversationState, decision: RouteDecision) -> RouteDecision:
    """Domain rules that no classifier may skip: checkout needs a registered customer."""
    registered = bool(state.customer and state.customer.registered)
    if decision.intent == "payment" and not registered:
        return decision.model_copy(
            update={"intent": "registration", "decided_by": "rule", "reason": "checkout needs registration"}
        )
    if decision.intent == "smalltalk" and not registered and state.turns == 0:
        return decision.model_copy(update={"intent": "registration", "decided_by": "rule", "reason": "first contact"})
    return decision
