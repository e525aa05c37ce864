"""Scenario files: the shipped suite loads; malformed files are refused naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.runner import check_references
from evals.scenario import ScenarioFileError, load_suite

GOOD = """
scenarios:
  - id: ok
    turns: [{say: oi}]
    expect: {orders: 0}
"""


def test_the_shipped_suite_is_valid_and_big_enough() -> None:
    scenarios = load_suite()
    check_references(scenarios)  # every sku and option exists on the demo menu
    assert len(scenarios) >= 60
    locales = {s.locale for s in scenarios}
    assert locales == {"pt-BR", "en"}
    assert sum(s.locale == "pt-BR" for s in scenarios) > len(scenarios) / 2
    tags = {t for s in scenarios for t in s.tags}
    for needed in ("menu", "cart", "registration", "payment", "smalltalk", "handoff", "returning", "slang"):
        assert needed in tags
    for needed in ("typos", "change-of-mind", "not-on-menu", "unavailable", "closed", "injection"):
        assert needed in tags


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            GOOD.replace("{orders: 0}", "{orders: 0, order: {total: caro}}"),
            "scenarios[0].expect.order.total (scenario 'ok')",
            "decimal",
        ),
        (
            GOOD.replace("turns: [{say: oi}]", "turns: [{say: oi, route: kitchen}]"),
            "scenarios[0].turns[0].route",
            "menu",
        ),
        (GOOD.replace("turns: [{say: oi}]", "turns: [{say: yes}]"), "scenarios[0].turns[0].say", "quote it"),
        (GOOD.replace("    expect: {orders: 0}\n", ""), "scenarios[0].expect", "required"),
        (
            GOOD.replace("turns: [{say: oi}]", "turns: [{say: oi, reply: {regex: ['(']}}]"),
            "reply.regex",
            "invalid regex",
        ),
        (GOOD.replace("id: ok", "id: ok\n    colour: blue"), "scenarios[0].colour", "not permitted"),
    ],
)
def test_a_malformed_file_is_refused_with_its_file_and_field(tmp_path: Path, body: str, field: str, words: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(body)
    with pytest.raises(ScenarioFileError) as caught:
        load_suite(str(path))
    message = str(caught.value)
    assert str(path) in message and field in message, message
    assert words in message.lower(), message


def test_unknown_skus_are_refused_before_running(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(GOOD.replace("{orders: 0}", "{cart: {lines: [{sku: BG-XSALDA}]}}"))
    with pytest.raises(ScenarioFileError) as caught:
        check_references(load_suite(str(path)))
    assert "expect.cart.lines[0].sku" in str(caught.value) and "BG-XSALDA" in str(caught.value)


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(ScenarioFileError, match="'ok' is also used in"):
        load_suite(str(tmp_path))
