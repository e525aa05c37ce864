"""The router policy: the structured-output route choice the router asks of the model."""

from __future__ import annotations

import re
from typing import Any

from graph.language.privacy import privacy_request
from graph.offline import parsing as p
from graph.offline.policy.chat import HELP, IDENTITY
from graph.offline.policy.common import Decision, Say, call, has_any
from graph.offline.policy.menu import _FEE, _HOURS
from graph.offline.view import TurnView

# --- router (structured output) -------------------------------------------------------------------------

_ROUTE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    (
        "handoff",
        (
            *("atendente", "humano", "pessoa", "gerente", "reclamacao", "falar com", "pessoa de verdade"),
            *("reclamar", "reclamacao", "veio errado", "chegou errado", "veio errada", "chegou frio", "reembolso"),
            *("complaint", "refund", "wrong order"),
            *("human", "agent", "manager", "real person", "a person", "someone", "talk to", "speak to"),
        ),
    ),
    (
        "payment",
        (
            *("pagar", "pix", "cartao", "dinheiro", "troco", "fechar", "fecha", "finalizar", "finaliza", "checkout"),
            *("fecha a conta", "pode fechar", "so isso", "pay", "cash", "that's all", "thats all"),
            # the order after checkout: where it is, cancelling it
            *("cade meu pedido", "cancela meu pedido", "cancelar meu pedido", "cancelar o pedido"),
            *("where is my order", "cancel my order", "cancel the order"),
        ),
    ),
    (
        "registration",
        (
            *("endereco", "enderecos", "meus enderecos", "cadastro", "meu nome", "email", "cep"),
            *("address", "addresses", "my addresses", "my name"),
            # managing saved addresses: "deixa o trabalho como padrão", "make work the default"
            *("como padrao", "o padrao", "endereco padrao", "the default", "default address"),
        ),
    ),
    (
        "cart",
        (
            *("carrinho", "quero", "adiciona", "coloca", "tira", "remove", "repete", "muda", "troca", "altera"),
            *("cancela tudo", "limpa", "esvazia", "apaga tudo", "mais um", "mais uma", "me ve", "pode ser"),
            *("cart", "add", "i want", "i'd like", "id like", "swap", "change", "make it", "clear", "start over"),
        ),
    ),
    (
        "menu",
        (
            *("cardapio", "menu", "tem", "quanto custa", "horario", "aberto", "aberta", "abrem", "abre", "taxa"),
            *("vegetariano", "vegetariana", "vegano", "vegana", "vegan", "vegetarian", "sem gluten", "gluten"),
            *("alergico", "alergia", "o que vem", "que vem", "ingredientes", "preco", "quanto e", "quais", "qto"),
            *("quanto ta", "quanto sai", "o que eu posso", "o que posso", "sobremesa", "bebidas", "sabores"),
            *("what's in", "whats in", "how much", "price", "open", "hours", "allergic", "do you have"),
        ),
    ),
]


def route(view: TurnView, say: Say) -> Decision:
    """Structured routing when the fast classifier was unsure: keyword cues, then order-like text, else smalltalk."""
    text = view.text
    ctx = view.context
    intent = "smalltalk"
    if privacy_request(text) is not None:
        return call("RouteChoice", intent="registration")
    if has_any(text, HELP) or has_any(text, IDENTITY):
        return call("RouteChoice", intent="smalltalk")
    if (has_any(text, _FEE) or has_any(text, _HOURS)) and not re.search(r"\d", text):
        # "quanto é a entrega?" is a question about the restaurant, not an item called "entrega"
        return call("RouteChoice", intent="menu")
    for name, words in _ROUTE_WORDS:
        if name in ("cart", "menu") and _is_order(text):
            # "3 temaki vegano": a quantity and a dish is an order, whatever diet word it carries
            intent = "cart"
            break
        if has_any(text, words):
            intent = name
            break
    else:
        lines = p.split_order_lines(text)
        if lines and any(line.qty is not None for line in lines):
            intent = "cart"
        elif p.parse_address(text).street or p.parse_email(text):
            intent = "registration"
        elif ctx.get("last_intent") == "registration" and re.fullmatch(r"\s*\d{1,2}\s*", text):
            # "2" after the list of the customer's addresses
            intent = "registration"
        elif ctx.get("last_intent") == "cart" and len(p.normalize(text).split()) <= 4 and _cart_has_lines(ctx):
            # a short answer right after the cart spoke ("a lata", "the can please"): its "which one?" question
            intent = "cart"
    return call("RouteChoice", intent=intent)


def _is_order(text: str) -> bool:
    if "?" in text:
        return False
    lines = p.split_order_lines(text)
    return bool(lines) and all(line.qty is not None and line.item for line in lines)


def _cart_has_lines(ctx: dict[str, Any]) -> bool:
    cart = ctx.get("cart") or {}
    return bool(cart.get("lines"))
