"""Grading: the final database state against the expected one field by field, and per-turn checks."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from evals.results import Failure, ToolCallRecord, TurnRecord
from evals.scenario import ExpectedAddress, ExpectedCall, LineSpec, Scenario, ToolExpectation, Turn
from graph.state import ConversationState
from memory.db import Pool

# ---------------------------------------------------------------------------------------------- actual state


async def read_state(
    pool: Pool,
    tenant_id: int,
    phone: str,
    thread_id: str,
    seeded_orders: set[int],
    final: ConversationState | None,
) -> dict[str, Any]:
    """What the conversation left behind: new orders (with lines and payment), the customer, tickets, the cart."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT c.id, c.name, c.email, c.cpf, a.street, a.number, a.complement, a.neighborhood, a.city, a.state,
                      (SELECT count(*) FROM addresses x WHERE x.customer_id = c.id) AS n_addresses
               FROM customers c LEFT JOIN addresses a ON a.id = c.default_address_id
               WHERE c.tenant_id = %s AND c.phone = %s""",
            (tenant_id, phone),
        )
        row = await cur.fetchone()
        customer: dict[str, Any] = {"registered": False}
        orders: list[dict[str, Any]] = []
        if row is not None:
            address = {k: row[k] for k in ("street", "number", "complement", "neighborhood", "city", "state")}
            customer = {
                "registered": bool(row["name"]),
                "name": row["name"],
                "email": row["email"],
                "cpf": row["cpf"],
                "address": address if row["street"] is not None else None,
                "addresses": row["n_addresses"],
            }
            cur = await conn.execute(
                """SELECT o.id, o.status, o.payment_method, o.change_for, o.subtotal, o.delivery_fee, o.total,
                          o.address,
                          (SELECT p.status FROM payments p WHERE p.order_id = o.id ORDER BY p.id DESC LIMIT 1)
                              AS payment_status
                   FROM orders o WHERE o.tenant_id = %s AND o.customer_id = %s ORDER BY o.id""",
                (tenant_id, row["id"]),
            )
            for o in await cur.fetchall():
                if o["id"] in seeded_orders:
                    continue
                cur = await conn.execute(
                    "SELECT sku, qty, options, removed FROM order_items WHERE order_id = %s ORDER BY position, id",
                    (o["id"],),
                )
                lines = [
                    {
                        "sku": ln["sku"],
                        "qty": ln["qty"],
                        "options": [opt["choice"] for opt in ln["options"]],
                        "removed": list(ln["removed"]),
                    }
                    for ln in await cur.fetchall()
                ]
                addr = o["address"] or {}
                orders.append(
                    {
                        "id": o["id"],
                        "status": o["status"],
                        "payment_method": o["payment_method"],
                        "payment_status": o["payment_status"] or "none",
                        "change_for": _money(o["change_for"]),
                        "subtotal": _money(o["subtotal"]),
                        "delivery_fee": _money(o["delivery_fee"]),
                        "total": _money(o["total"]),
                        "address": {
                            k: addr.get(k) for k in ("street", "number", "complement", "neighborhood", "city", "state")
                        },
                        "lines": lines,
                    }
                )
        cur = await conn.execute(
            "SELECT count(*) AS n FROM handoff_tickets WHERE tenant_id = %s AND thread_id = %s", (tenant_id, thread_id)
        )
        tickets = (await cur.fetchone() or {"n": 0})["n"]
    cart = []
    if final is not None:
        cart = [
            {"sku": ln.sku, "qty": ln.qty, "options": [o.choice for o in ln.options], "removed": list(ln.removed)}
            for ln in final.cart.lines
        ]
    return {"orders": orders, "customer": customer, "ticket": tickets > 0, "cart": cart}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# ---------------------------------------------------------------------------------------------- state grading


def fold(text: str) -> str:
    """Case- and accent-insensitive, whitespace-collapsed text for comparisons."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _same_text(expected: str, actual: Any) -> bool:
    return isinstance(actual, str) and fold(expected) == fold(actual)


def _same_money(expected: Decimal, actual: Any) -> bool:
    return actual is not None and Decimal(str(actual)) == expected


def _line_key(line: dict[str, Any] | LineSpec) -> tuple[str, int, tuple[str, ...], tuple[str, ...]]:
    d = line.model_dump() if isinstance(line, LineSpec) else line
    return (
        d["sku"],
        d["qty"],
        tuple(sorted(fold(o) for o in d["options"])),
        tuple(sorted(fold(r) for r in d["removed"])),
    )


def compare_lines(where: str, expected: Sequence[LineSpec], actual: Sequence[dict[str, Any]]) -> list[Failure]:
    """Lines as multisets; a line with the right sku but other details is reported field by field."""
    failures: list[Failure] = []
    remaining = list(actual)
    unmatched: list[LineSpec] = []
    for exp in expected:
        hit = next((a for a in remaining if _line_key(a) == _line_key(exp)), None)
        if hit is None:
            unmatched.append(exp)
        else:
            remaining.remove(hit)
    for exp in unmatched:
        same_sku = next((a for a in remaining if a["sku"] == exp.sku), None)
        if same_sku is None:
            failures.append(Failure(check="state", field=f"{where}[{exp.sku}]", expected=exp.model_dump(), actual=None))
            continue
        remaining.remove(same_sku)
        if same_sku["qty"] != exp.qty:
            failures.append(
                Failure(check="state", field=f"{where}[{exp.sku}].qty", expected=exp.qty, actual=same_sku["qty"])
            )
        for name in ("options", "removed"):
            want = sorted(fold(x) for x in getattr(exp, name))
            got = sorted(fold(x) for x in same_sku[name])
            if want != got:
                failures.append(
                    Failure(
                        check="state",
                        field=f"{where}[{exp.sku}].{name}",
                        expected=getattr(exp, name),
                        actual=same_sku[name],
                    )
                )
    for extra in remaining:
        failures.append(Failure(check="state", field=f"{where}[{extra['sku']}]", expected=None, actual=extra))
    return failures


def _compare_address(where: str, expected: ExpectedAddress, actual: dict[str, Any] | None) -> list[Failure]:
    if actual is None:
        return [Failure(check="state", field=where, expected=expected.model_dump(exclude_none=True), actual=None)]
    failures = []
    for name, want in expected.model_dump(exclude_none=True).items():
        got = actual.get(name)
        if not _same_text(want, got):
            failures.append(Failure(check="state", field=f"{where}.{name}", expected=want, actual=got))
    return failures


def grade_state(scenario: Scenario, actual: dict[str, Any]) -> list[Failure]:
    """Every difference between the expected final state and the actual one, each naming its field."""
    exp = scenario.expect
    failures: list[Failure] = []
    orders: list[dict[str, Any]] = actual["orders"]
    n_expected = exp.orders if exp.orders is not None else (1 if exp.order is not None else None)
    if n_expected is not None and len(orders) != n_expected:
        failures.append(Failure(check="state", field="orders", expected=n_expected, actual=len(orders)))
    if exp.order is not None:
        if not orders:
            failures.append(Failure(check="state", field="order", expected="an order placed", actual=None))
        else:
            order = orders[-1]
            want = exp.order
            if want.lines is not None:
                failures += compare_lines("order.lines", want.lines, order["lines"])
            for name in ("subtotal", "delivery_fee", "total", "change_for"):
                value = getattr(want, name)
                if value is not None and not _same_money(value, order[name]):
                    failures.append(
                        Failure(check="state", field=f"order.{name}", expected=f"{value:.2f}", actual=order[name])
                    )
            for name in ("status", "payment_method", "payment_status"):
                value = getattr(want, name)
                if value is not None and value != order[name]:
                    failures.append(Failure(check="state", field=f"order.{name}", expected=value, actual=order[name]))
            if want.address is not None:
                failures += _compare_address("order.address", want.address, order["address"])
    if exp.customer is not None:
        cust = actual["customer"]
        want_c = exp.customer
        if want_c.registered is not None and want_c.registered != cust["registered"]:
            failures.append(
                Failure(
                    check="state", field="customer.registered", expected=want_c.registered, actual=cust["registered"]
                )
            )
        for name in ("name", "email", "cpf"):
            value = getattr(want_c, name)
            if value is not None and not _same_text(value, cust.get(name)):
                failures.append(Failure(check="state", field=f"customer.{name}", expected=value, actual=cust.get(name)))
        if want_c.address is not None:
            failures += _compare_address("customer.address", want_c.address, cust.get("address"))
        if want_c.addresses is not None and want_c.addresses != cust.get("addresses", 0):
            failures.append(
                Failure(
                    check="state",
                    field="customer.addresses",
                    expected=want_c.addresses,
                    actual=cust.get("addresses", 0),
                )
            )
    if exp.ticket is not None and exp.ticket != actual["ticket"]:
        failures.append(Failure(check="state", field="ticket", expected=exp.ticket, actual=actual["ticket"]))
    if exp.cart is not None:
        failures += compare_lines("cart.lines", exp.cart.lines, actual["cart"])
    return failures


# ---------------------------------------------------------------------------------------------- per-turn checks


def _arg_matches(want: Any, got: Any) -> bool:
    if isinstance(want, str) and isinstance(got, str):
        return fold(want) == fold(got)
    if isinstance(want, dict) and isinstance(got, dict):
        return all(k in got and _arg_matches(v, got[k]) for k, v in want.items())
    if isinstance(want, (int, float)) and isinstance(got, str):
        return got.strip() == str(want)
    return bool(want == got)


def call_matches(expected: ExpectedCall, actual: ToolCallRecord) -> bool:
    """Same tool, and every expected argument present with the expected value."""
    return expected.name == actual.name and all(
        k in actual.args and _arg_matches(v, actual.args[k]) for k, v in expected.args.items()
    )


def _matched(expected: Sequence[ExpectedCall], actual: Sequence[ToolCallRecord]) -> int:
    """Size of a maximum matching between expected and actual calls (tiny lists: augmenting paths)."""
    owner: dict[int, int] = {}

    def take(e: int, seen: set[int]) -> bool:
        for a in range(len(actual)):
            if a in seen or not call_matches(expected[e], actual[a]):
                continue
            seen.add(a)
            if a not in owner or take(owner[a], seen):
                owner[a] = e
                return True
        return False

    return sum(take(e, set()) for e in range(len(expected)))


def tools_match(spec: ToolExpectation, actual: Sequence[ToolCallRecord]) -> bool:
    """openevals-style trajectory match of one turn's tool calls."""
    expected = spec.calls
    if spec.mode == "strict":
        return len(expected) == len(actual) and all(call_matches(e, a) for e, a in zip(expected, actual, strict=True))
    matched = _matched(expected, actual)
    if spec.mode == "unordered":
        return len(expected) == len(actual) == matched
    if spec.mode == "superset":
        return matched == len(expected)
    return matched == len(actual)  # subset


_PT_WORDS = frozenset(
    "o a os as um uma de do da dos das que e é não nao para pra com seu sua você voce seu pedido obrigado "
    "quer qual quais tem temos aqui está esta por favor sim seu carrinho entrega endereço".split()
)
_EN_WORDS = frozenset(
    "the a an of to and is are you your for with what which we here please yes no order thanks cart "
    "delivery address would like".split()
)


def detect_language(text: str) -> str | None:
    """pt-BR or en by common words; None when the text gives no hint."""
    words = re.findall(r"[a-zà-ú]+", text.casefold())
    pt = sum(w in _PT_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    if pt == en:
        return None
    return "pt-BR" if pt > en else "en"


def grade_turn(number: int, turn: Turn, record: TurnRecord) -> list[Failure]:
    """Route, tool calls and reply assertions of one turn."""
    failures: list[Failure] = []
    if turn.route is not None and (record.route or "none") != turn.route:
        failures.append(
            Failure(
                check="route",
                field=f"turn {number} route",
                expected=turn.route,
                actual=record.route or "none",
                turn=number,
            )
        )
    if turn.tools is not None and not tools_match(turn.tools, record.tool_calls):
        failures.append(
            Failure(
                check="tools",
                field=f"turn {number} tools ({turn.tools.mode})",
                expected=[c.model_dump() for c in turn.tools.calls],
                actual=[c.model_dump(exclude={"node"}) for c in record.tool_calls],
                turn=number,
            )
        )
    if turn.reply is not None:
        failures += _grade_reply(number, turn, "\n".join(record.replies))
    return failures


def _grade_reply(number: int, turn: Turn, text: str) -> list[Failure]:
    spec = turn.reply
    assert spec is not None
    failures: list[Failure] = []

    def fail(name: str, expected: Any, actual: Any) -> None:
        failures.append(
            Failure(check="reply", field=f"turn {number} reply.{name}", expected=expected, actual=actual, turn=number)
        )

    folded = fold(text)
    for want in spec.contains:
        if fold(want) not in folded:
            fail("contains", want, text)
    for unwanted in spec.not_contains:
        if fold(unwanted) in folded:
            fail("not_contains", unwanted, text)
    for pattern in spec.regex:
        if not re.search(pattern, text, re.IGNORECASE):
            fail("regex", pattern, text)
    if spec.language is not None and (lang := detect_language(text)) != spec.language:
        fail("language", spec.language, lang)
    if spec.max_length is not None and len(text) > spec.max_length:
        fail("max_length", spec.max_length, len(text))
    if spec.empty is not None and spec.empty != (not text.strip()):
        fail("empty", spec.empty, text)
    return failures
