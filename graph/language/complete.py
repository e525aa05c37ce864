"""Whether one message already answers the bot's last question whole, so the queue needn't wait for more.

The queue coalesces a customer's quick messages into one turn by waiting for a quiet moment (server/queue.py).
A bare "sim" to "Confirma?" or "pix" to "Como prefere pagar?" is the whole answer: nobody types "sim" and then
the rest of their thought as a second message often enough to make every such reply wait. Deliberately strict:
only a message that is *nothing but* the answer counts ("sim, mas sem cebola" waits as before), and only for
the questions listed here; anything else, or a question we don't know, waits.
"""

from __future__ import annotations

import re

from graph.language.text import normalize, phrases
from graph.language.yesno import NO_WORDS, YES_PHRASES, parse_yes_no

# the bot's questions a yes or a no answers (the `awaiting` the tools and nodes set)
YES_NO_QUESTIONS = frozenset(
    {
        "registration.confirm",
        "payment.confirm",
        "handoff.offer",
        "cart.usual",
        "menu.place",
        "registration.privacy_export",
        "registration.privacy_erase",
    }
)
_YES_NO = frozenset(" ".join(p) for p in YES_PHRASES) | NO_WORDS | frozenset({"nao obrigado", "no thanks"})
_PAYMENT_METHODS = frozenset(
    " ".join(p)
    for p in phrases(
        "pix|no pix|via pix|pelo pix|cartao|no cartao|cartao de credito|cartao de debito|credito|debito|"
        "dinheiro|em dinheiro|especie|em especie|card|credit card|debit card|by card|cash|in cash"
    )
)
_SKIP_EMAIL = frozenset({"pular", "pula", "skip", "sem email", "no email", "nao tenho", "nao tenho email"})
_EMAIL_RE = re.compile(r"^[^\s@]+@[^\s@]+\.[a-z]{2,}$")
_CPF_RE = re.compile(r"^\d{3}\.?\d{3}\.?\d{3}-?\d{2}$")


def answers_whole(awaiting: str | None, text: str) -> bool:
    """True when `text` alone is a complete answer to the question `awaiting` names (see the module's note)."""
    if not awaiting or not text.strip():
        return False
    norm = normalize(text).strip(" .!")
    if awaiting in YES_NO_QUESTIONS:
        # nothing but emojis ("👍") normalises to nothing
        return norm in _YES_NO or (not norm and parse_yes_no(text) is not None)
    if awaiting == "payment.method":
        return norm in _PAYMENT_METHODS
    if awaiting == "registration.email":
        return norm in _SKIP_EMAIL or bool(_EMAIL_RE.match(norm))
    if awaiting == "payment.cpf":
        return bool(_CPF_RE.match(norm))
    return False
