"""The handoff and small-talk policies: asking for a person, greetings, thanks, goodbyes, help."""

from __future__ import annotations

from typing import Any

from graph.language.greeting import GREETING
from graph.offline import parsing as p
from graph.offline.policy.common import Decision, Say, allergens_held, call, has_any, not_understood
from graph.offline.view import TurnView

# --- handoff and smalltalk ------------------------------------------------------------------------------


def handoff(view: TurnView, say: Say) -> Decision:
    """Open a ticket for a human agent."""
    if view.acting:
        if view.context.get("awaiting") == "handoff.offer" and p.parse_yes_no(view.text) is not True:
            # we offered a person after two misunderstandings; anything but a yes keeps the bot
            return Decision(text=say("handoff.offer_declined"))
        reason = view.text if view.context.get("awaiting") != "handoff.offer" else "the bot failed twice in a row"
        return call("request_human", reason=(reason or "customer asked for a human")[:200], summary="")
    ex = view.exchanges[-1]
    if ex.ok:
        return Decision(text=say("handoff.opened"))
    return Decision(text=say("error.internal"), understood=False)


_THANKS = ("obrigado", "obrigada", "obg", "valeu", "vlw", "brigado", "thanks", "thank you", "thx", "agradeco")
BYE = ("tchau", "ate mais", "ate logo", "falou", "flw", "bye", "goodbye", "see you", "boa noite", "fui")
IDENTITY = (
    "quem e voce",
    "voce e um robo",
    "e um robo",
    "e robo",
    "bot",
    "who are you",
    "are you a bot",
    "are you human",
    "voce e humano",
    "e gente",
)
HELP = (
    "ajuda",
    "como funciona",
    "como faco",
    "como pedir",
    "help",
    "how does",
    "how do i",
    "o que voce faz",
    "what can you",
)


def usual_preferences(memories: list[dict[str, Any]]) -> list[str]:
    """What the customer always wants left out ("cebola" of a standing "sem cebola sempre")."""
    return [
        m["subject"].partition(":")[2].removeprefix("sem ")
        for m in memories
        if m.get("kind") == "preference" and (m.get("subject") or "").startswith("preference:sem ")
    ]


def _usual_held(held: list[dict[str, Any]], say: Say) -> str:
    """The last order's items with an allergen the customer told us: the greeting lists that order, so it says these
    stay out (a yes holds them back and asks) instead of offering them as if nothing were wrong."""
    if not held:
        return ""
    if len(held) == 1:
        return say("greeting.usual_held", item=held[0]["item"], option=held[0]["allergen"])
    options, contains = allergens_held(held, say)
    return say("greeting.usual_held_many", options=options, contains=contains)


def smalltalk(view: TurnView, say: Say) -> Decision:
    """Greetings, thanks, goodbyes, who-are-you, help."""
    text = view.text
    ctx = view.context
    customer = ctx.get("customer") or {}
    name = (customer.get("name") or "").split(" ")[0]
    if has_any(text, IDENTITY):
        return Decision(text=say("smalltalk.identity", restaurant=view.context.get("restaurant", "")))
    if has_any(text, HELP):
        return Decision(text=say("smalltalk.help", restaurant=view.context.get("restaurant", "")))
    if has_any(text, _THANKS):
        return Decision(text=say("smalltalk.thanks"))
    if has_any(text, GREETING):
        last = customer.get("last_order") or {}
        if name and last.get("summary"):
            # a standing "sem cebola" makes it their usual: "o de sempre, sem cebola?" (a yes repeats it)
            usual = usual_preferences(ctx.get("memories") or [])
            greeting = say(
                "greeting.returning_usual" if usual else "greeting.returning",
                name=name,
                restaurant=view.context.get("restaurant", ""),
                last_order=last["summary"],
                preference=say.words([say("greeting.without", item=u) for u in usual]),
            )
            return Decision(text=say.join(greeting, _usual_held(ctx.get("usual_held") or [], say)))
        if name:
            return Decision(
                text=say("greeting.returning_no_orders", name=name, restaurant=view.context.get("restaurant", ""))
            )
        return Decision(text=say("greeting.new", restaurant=view.context.get("restaurant", "")))
    if has_any(text, BYE):
        return Decision(text=say("smalltalk.bye"))
    if p.parse_yes_no(text) is not None:
        return Decision(text=say("smalltalk.how_to_order"))
    return not_understood(say)
