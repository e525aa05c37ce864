"""The router policy: the structured-output route choice the router asks of the model."""

from __future__ import annotations

import re

from graph.offline import parsing as p
from graph.offline.policy.common import Decision, Say, call, has_any
from graph.offline.policy.menu import _FEE, _HOURS
from graph.offline.view import TurnView

# --- router (structured output) -------------------------------------------------------------------------

_ROUTE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("handoff", ("atendente", "humano", "pessoa", "gerente", "reclamacao", "human", "agent", "manager", "falar com")),
    (
        "payment",
        (
            *("pagar", "pix", "cartao", "dinheiro", "troco", "fechar", "finalizar", "checkout", "pay", "cash"),
            # the order after checkout: where it is, cancelling it
            *("cade meu pedido", "cancela meu pedido", "cancelar meu pedido", "cancelar o pedido"),
            *("where is my order", "cancel my order", "cancel the order"),
        ),
    ),
    ("registration", ("endereco", "cadastro", "meu nome", "email", "cep", "address", "my name")),
    ("cart", ("carrinho", "quero", "adiciona", "coloca", "tira", "remove", "repete", "cart", "add", "i want")),
    ("menu", ("cardapio", "menu", "tem", "quanto custa", "horario", "aberto", "taxa", "vegetariano", "vegan")),
]


def route(view: TurnView, say: Say) -> Decision:
    """Structured routing when the fast classifier was unsure: keyword cues, then order-like text, else smalltalk."""
    text = view.text
    intent = "smalltalk"
    if (has_any(text, _FEE) or has_any(text, _HOURS)) and not re.search(r"\d", text):
        # "quanto é a entrega?" is a question about the restaurant, not an item called "entrega"
        return call("RouteChoice", intent="menu")
    for name, words in _ROUTE_WORDS:
        if has_any(text, words):
            intent = name
            break
    else:
        lines = p.split_order_lines(text)
        if lines and any(line.qty is not None for line in lines):
            intent = "cart"
        elif p.parse_address(text).street or p.parse_email(text):
            intent = "registration"
    return call("RouteChoice", intent=intent)
