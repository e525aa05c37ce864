"""Offline model text understanding (graph/offline/parse): money, payment methods, fuzzy name matching."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from graph.offline.parsing import (
    FuzzyHit,
    PaymentChoice,
    fuzzy_find,
    parse_money,
    parse_payment,
)

# ----------------------------------------------------------------------------- money & payment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R$ 32,90", Decimal("32.90")),
        ("32.90", Decimal("32.90")),
        ("32", Decimal("32")),
        ("1.234,50", Decimal("1234.50")),
        ("1,234.50", Decimal("1234.50")),
        ("1.000", Decimal("1000")),
        ("R$0,99", Decimal("0.99")),
        ("R$ 100,00", Decimal("100")),
        ("50 reais", Decimal("50")),
        ("50 conto", Decimal("50")),
        ("cinquenta", Decimal("50")),
        ("cem reais", Decimal("100")),
        ("vinte e cinco", Decimal("25")),
        ("a hundred", Decimal("100")),
        ("$20", Decimal("20")),
        ("2 pizzas por 60 reais", Decimal("60")),
        ("", None),
        ("abc", None),
        ("uma pizza", None),
    ],
)
def test_parse_money(text: str, expected: Decimal | None) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    ("text", "method", "change_for"),
    [
        ("pix", "pix", None),
        ("PIX", "pix", None),
        ("vou pagar no pix", "pix", None),
        ("cartão", "card", None),
        ("cartao", "card", None),
        ("crédito", "card", None),
        ("debito", "card", None),
        ("link", "card", None),
        ("manda o link de pagamento", "card", None),
        ("card", "card", None),
        ("credit card", "card", None),
        ("no cartão de débito", "card", None),
        ("maquininha", "card", None),
        ("vale refeição", "card", None),
        ("dinheiro", "cash", None),
        ("em espécie", "cash", None),
        ("cash", "cash", None),
        ("troco para 100", "cash", Decimal("100")),
        ("troco pra 50,00", "cash", Decimal("50")),
        ("change for 100", "cash", Decimal("100")),
        ("dinheiro, troco pra R$ 100,00", "cash", Decimal("100")),
        ("vou pagar em dinheiro, leva troco pra cem", "cash", Decimal("100")),
        ("cash, change for $50", "cash", Decimal("50")),
        ("sem troco", "cash", None),
        ("não preciso de troco", "cash", None),
        ("dinheiro, nao precisa de troco", "cash", None),
        ("cash, no change needed", "cash", None),
        ("não tenho pix, vai no cartão", "card", None),
        ("no card, cash", "cash", None),
        ("pix ou cartão", "pix", None),
        ("cartão, troco pra 100", "card", None),
        ("nota fiscal", None, None),
        ("hmm", None, None),
        ("", None, None),
        ("na entrega", None, None),
    ],
)
def test_parse_payment(text: str, method: str | None, change_for: Decimal | None) -> None:
    choice = parse_payment(text)
    assert isinstance(choice, PaymentChoice)
    assert (choice.method, choice.change_for) == (method, change_for)


def test_payment_choice_is_frozen() -> None:
    choice = parse_payment("pix")
    with pytest.raises(ValidationError):
        choice.method = "cash"  # type: ignore[misc]


# ----------------------------------------------------------------------------- fuzzy_find

MENU = [
    "Pizza Margherita",  # 0
    "Pizza Calabresa",  # 1
    "Pizza Frango com Catupiry",  # 2
    "Pizza Quatro Queijos",  # 3
    "X-Salada",  # 4
    "X-Bacon",  # 5
    "X-Tudo",  # 6
    "Coca-Cola Lata 350ml",  # 7
    "Coca-Cola 2L",  # 8
    "Guaraná Antarctica Lata",  # 9
    "Chocolate",  # 10
    "Cocada",  # 11
    "Refrigerante 2L",  # 12
    "Suco de Laranja",  # 13
    "Hambúrguer Artesanal",  # 14
    "Coxinha",  # 15
    "Pastel de Carne",  # 16
    "Pão de Queijo",  # 17
    "Batata Frita",  # 18
    "Água sem Gás",  # 19
    "Brigadeiro",  # 20
    "Calzone de Calabresa",  # 21
]


def top(query: str, candidates: list[str] = MENU) -> str:
    """The best candidate for query."""
    hits = fuzzy_find(query, candidates)
    assert hits, f"no hit for {query!r}"
    return hits[0].candidate


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("pizza margherita", "Pizza Margherita"),
        ("margherita", "Pizza Margherita"),
        ("margerita", "Pizza Margherita"),
        ("pizza marguerita", "Pizza Margherita"),
        ("calabresa", "Pizza Calabresa"),
        ("calabreza", "Pizza Calabresa"),
        ("pizzas calabresa", "Pizza Calabresa"),
        ("xsalada", "X-Salada"),
        ("x salada", "X-Salada"),
        ("x-salada", "X-Salada"),
        ("X SALADA", "X-Salada"),
        ("xtudo", "X-Tudo"),
        ("x bacon", "X-Bacon"),
        ("refri", "Refrigerante 2L"),
        ("cocas", "Coca-Cola 2L"),
        ("coca cola", "Coca-Cola 2L"),
        ("cocacola", "Coca-Cola 2L"),
        ("coca lata", "Coca-Cola Lata 350ml"),
        ("hamburgueres", "Hambúrguer Artesanal"),
        ("hamburguer", "Hambúrguer Artesanal"),
        ("coxinhas", "Coxinha"),
        ("pasteis", "Pastel de Carne"),
        ("pao de queijo", "Pão de Queijo"),
        ("paes de queijo", "Pão de Queijo"),
        ("pizza de frango com catupiry", "Pizza Frango com Catupiry"),
        ("frango catupiry", "Pizza Frango com Catupiry"),
        ("4 queijos", "Pizza Quatro Queijos"),
        ("quatro queijo", "Pizza Quatro Queijos"),
        ("agua", "Água sem Gás"),
        ("guarana", "Guaraná Antarctica Lata"),
        ("suco laranja", "Suco de Laranja"),
        ("brigadeiros", "Brigadeiro"),
        ("batata", "Batata Frita"),
        ("chocolate", "Chocolate"),
    ],
)
def test_fuzzy_find_best_hit(query: str, expected: str) -> None:
    assert top(query) == expected


def test_fuzzy_find_coca_ranks_cokes_above_chocolate() -> None:
    hits = fuzzy_find("coca", MENU, limit=10, cutoff=0)
    names = [h.candidate for h in hits]
    assert set(names[:2]) == {"Coca-Cola Lata 350ml", "Coca-Cola 2L"}
    assert names.index("Chocolate") > 1
    scores = {h.candidate: h.score for h in hits}
    assert scores["Coca-Cola Lata 350ml"] > scores["Chocolate"]
    assert scores["Coca-Cola 2L"] > scores["Chocolate"]


def test_fuzzy_find_pizza_margherita_first_among_pizzas() -> None:
    pizzas = [c for c in MENU if c.startswith("Pizza")]
    hits = fuzzy_find("pizza margherita", pizzas, cutoff=0)
    assert hits[0].candidate == "Pizza Margherita"
    assert hits[0].score == 100.0
    assert all(h.score < hits[0].score for h in hits[1:])


def test_fuzzy_find_calabresa_prefers_pizza_calabresa() -> None:
    hits = fuzzy_find("calabresa", MENU)
    assert hits[0].candidate == "Pizza Calabresa"
    assert hits[0].index == 1
    assert {h.candidate for h in hits} >= {"Pizza Calabresa", "Calzone de Calabresa"}


def test_fuzzy_find_refri_scores_well() -> None:
    (hit,) = fuzzy_find("refri", ["Refrigerante"])
    assert hit.score >= 80


def test_fuzzy_find_prefers_exact_and_shorter_matches() -> None:
    hits = fuzzy_find("pizza margherita", ["Pizza Margherita Grande", "Pizza Margherita", "Margherita"])
    assert [h.candidate for h in hits][:2] == ["Pizza Margherita", "Pizza Margherita Grande"]


def test_fuzzy_find_sorted_by_score_then_index() -> None:
    hits = fuzzy_find("pizza", ["Pizza Calabresa", "Pizza Margherita", "Pizza Doce", "Coca"], limit=10)
    assert [h.index for h in hits] == [0, 1, 2]
    assert len({h.score for h in hits}) == 1
    ordered = sorted(hits, key=lambda h: (-h.score, h.index))
    assert hits == ordered


def test_fuzzy_find_limit_and_cutoff() -> None:
    assert len(fuzzy_find("pizza", MENU, limit=2)) == 2
    assert fuzzy_find("pizza", MENU, limit=0) == []
    assert fuzzy_find("sushi", MENU) == []
    assert fuzzy_find("", MENU) == []
    assert fuzzy_find("pizza", []) == []
    assert all(h.score >= 90 for h in fuzzy_find("pizza", MENU, cutoff=90))


def test_fuzzy_find_hits_are_frozen_and_in_range() -> None:
    hits = fuzzy_find("coca", MENU, cutoff=0, limit=len(MENU))
    assert all(isinstance(h, FuzzyHit) and 0 <= h.score <= 100 for h in hits)
    assert all(MENU[h.index] == h.candidate for h in hits)
    with pytest.raises(ValidationError):
        hits[0].score = 1.0  # type: ignore[misc]


def test_fuzzy_find_accepts_tuples_and_duplicates() -> None:
    hits = fuzzy_find("coxinha", ("Coxinha", "Coxinha", "Kibe"))
    assert [(h.index, h.score) for h in hits] == [(0, 100.0), (1, 100.0)]
