"""Grading: one differing field fails the scenario and is named; tool-call match modes."""

from __future__ import annotations

from typing import Any

import pytest

from evals.graders import detect_language, grade_state, grade_turn, tools_match
from evals.results import ToolCallRecord, TurnRecord
from evals.scenario import Scenario, ToolExpectation, Turn


def _scenario(expect: dict[str, Any]) -> Scenario:
    return Scenario.model_validate({"id": "s", "turns": [{"say": "oi"}], "expect": expect})


ACTUAL: dict[str, Any] = {
    "orders": [
        {
            "id": 1,
            "status": "placed",
            "payment_method": "cash",
            "payment_status": "none",
            "change_for": "100.00",
            "subtotal": "70.80",
            "delivery_fee": "7.50",
            "total": "78.30",
            "address": {"street": "Rua Harmonia", "number": "250", "neighborhood": "Vila Madalena"},
            "lines": [
                {"sku": "BG-XSALADA", "qty": 2, "options": [], "removed": ["cebola"]},
                {"sku": "BB-COCA-LATA", "qty": 1, "options": ["Com gelo"], "removed": []},
            ],
        }
    ],
    "customer": {
        "registered": True,
        "name": "Maria Souza",
        "email": None,
        "cpf": None,
        "address": None,
        "addresses": 1,
    },
    "ticket": False,
    "cart": [],
}
EXPECTED: dict[str, Any] = {
    "order": {
        "lines": [
            {"sku": "BB-COCA-LATA", "qty": 1, "options": ["com gelo"]},  # any order, case-insensitive
            {"sku": "BG-XSALADA", "qty": 2, "removed": ["Cebola"]},
        ],
        "total": "78.30",
        "payment_method": "cash",
        "change_for": "100",
        "address": {"street": "rua harmonia", "number": "250"},
    },
    "customer": {"name": "Maria Souza", "registered": True},
    "ticket": False,
}


def test_the_matching_state_passes() -> None:
    assert grade_state(_scenario(EXPECTED), ACTUAL) == []


@pytest.mark.parametrize(
    ("change", "field", "expected", "actual"),
    [
        ({"order": {**EXPECTED["order"], "total": "78.40"}}, "order.total", "78.40", "78.30"),
        ({"order": {**EXPECTED["order"], "payment_method": "pix"}}, "order.payment_method", "pix", "cash"),
        (
            {"order": {**EXPECTED["order"], "address": {"number": "205"}}},
            "order.address.number",
            "205",
            "250",
        ),
        (
            {
                "order": {
                    **EXPECTED["order"],
                    "lines": [EXPECTED["order"]["lines"][0], {"sku": "BG-XSALADA", "qty": 2, "removed": ["tomate"]}],
                }
            },
            "order.lines[BG-XSALADA].removed",
            ["tomate"],
            ["cebola"],
        ),
        ({"customer": {"name": "Maria Sousa"}}, "customer.name", "Maria Sousa", "Maria Souza"),
        ({"ticket": True}, "ticket", True, False),
    ],
)
def test_one_differing_field_fails_with_that_field_named(
    change: dict[str, Any], field: str, expected: Any, actual: Any
) -> None:
    failures = grade_state(_scenario({**EXPECTED, **change}), ACTUAL)
    assert [(f.field, f.expected, f.actual) for f in failures] == [(field, expected, actual)]


def test_missing_and_extra_lines_are_named_by_sku() -> None:
    expect = {"order": {"lines": [{"sku": "BG-XSALADA", "qty": 2, "removed": ["cebola"]}, {"sku": "PO-BATATA"}]}}
    fields = [f.field for f in grade_state(_scenario(expect), ACTUAL)]
    assert fields == ["order.lines[PO-BATATA]", "order.lines[BB-COCA-LATA]"]


def test_no_order_placed_is_a_failure_of_the_order() -> None:
    fields = [f.field for f in grade_state(_scenario(EXPECTED), {**ACTUAL, "orders": []})]
    assert fields[:2] == ["orders", "order"]


CALLS = [
    ToolCallRecord(name="add_to_cart", args={"item": "x-salada", "qty": 2}),
    ToolCallRecord(name="add_to_cart", args={"item": "coca lata", "qty": 1}),
]


@pytest.mark.parametrize(
    ("mode", "expected", "matches"),
    [
        ("strict", [{"name": "add_to_cart", "args": {"item": "X-Salada"}}, {"name": "add_to_cart"}], True),
        ("strict", [{"name": "add_to_cart", "args": {"item": "coca lata"}}, {"name": "add_to_cart"}], False),
        ("unordered", [{"name": "add_to_cart", "args": {"item": "coca lata"}}, {"name": "add_to_cart"}], True),
        ("unordered", [{"name": "add_to_cart"}], False),
        ("superset", [{"name": "add_to_cart", "args": {"qty": 1}}], True),
        ("superset", [{"name": "show_cart"}], False),
        ("subset", [{"name": "add_to_cart"}, {"name": "add_to_cart"}, {"name": "show_cart"}], True),
        ("subset", [{"name": "add_to_cart"}], False),
    ],
)
def test_tool_call_match_modes(mode: str, expected: list[dict[str, Any]], matches: bool) -> None:
    spec = ToolExpectation.model_validate({"mode": mode, "calls": expected})
    assert tools_match(spec, CALLS) is matches


def test_reply_assertions_name_what_failed() -> None:
    turn = Turn.model_validate(
        {
            "say": "oi",
            "route": "menu",
            "reply": {"contains": ["R$ 7,50"], "not_contains": ["grátis"], "regex": [r"entrega"], "max_length": 20},
        }
    )
    record = TurnRecord(customer=["oi"], route="smalltalk", replies=["A entrega é grátis hoje, aproveite!"])
    fields = [f.field for f in grade_turn(3, turn, record)]
    assert fields == [
        "turn 3 route",
        "turn 3 reply.contains",
        "turn 3 reply.not_contains",
        "turn 3 reply.max_length",
    ]


def test_language_detection_tells_portuguese_from_english() -> None:
    assert detect_language("Anotado! Mais alguma coisa ou posso fechar o pedido?") == "pt-BR"
    assert detect_language("Got it! Would you like anything else, or should I close the order?") == "en"
    assert detect_language("👍") is None
