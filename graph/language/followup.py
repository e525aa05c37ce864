"""Elliptical follow-ups: "e em Moema?", "e pra Vila Mariana?", "what about Pinheiros?".

Such a message has no words of its own saying what it asks: it is the previous question again, for the thing it
names. Neither the router's examples nor the agents' keywords can read it alone ("e pra Vila Mariana?" looks like
the answer to "qual o seu bairro?"), so it is recognised by its shape and read against what was asked before.
"""

from __future__ import annotations

import re

from tools.text import fold

# a connective, then a preposition (Portuguese needs one: "e uma coca" is an order, "e em Moema" a place),
# an optional article or "bairro (de)", and at most four words up to the question mark
_FOLLOW_UP = re.compile(
    r"^\s*(?:(?:e|and)\s+(?:para|pra|pro|em|no|na|to|in)|what\s+about|how\s+about)\s+"
    r"(?:(?:o|a|the)\s+)?(?:(?:bairro|neighbou?rhood)\s+(?:(?:de|do|da|of)\s+)?)?"
    r"(?P<subject>[^\s?!.,;:]+(?:\s+[^\s?!.,;:]+){0,3})\s*[?!.]*\s*$",
    re.IGNORECASE,
)
# what starts a follow-up that is not about a thing of the previous question: "e pra mim uma coca", "e pra 2"
_NOT_A_SUBJECT = frozenset(
    "mim me voce voces vc vcs nos gente ele ela eles elas um uma uns umas dois duas tres me my you us".split()
)


def follow_up_subject(text: str) -> str | None:
    """What an elliptical follow-up names, as the customer wrote it ("e pra Vila Mariana?" → "Vila Mariana"),
    or None when the message is not one."""
    found = _FOLLOW_UP.match(text)
    if found is None:
        return None
    subject = found.group("subject")
    first = fold(subject.split()[0])
    if first.isdigit() or first in _NOT_A_SUBJECT:
        return None
    return subject
