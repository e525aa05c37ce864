"""The operator's commands: tenants add/list/show, menu import/show, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DEMO_MENU
from typer.testing import CliRunner

from comanda.cli import app
from memory.db import Pool

runner = CliRunner()


@pytest.fixture
def cli_env(db: Pool, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COMANDA_MODEL", raising=False)


def test_tenant_add_list_show(cli_env: None) -> None:
    added = runner.invoke(
        app,
        [
            "tenants",
            "add",
            "--slug",
            "ze",
            "--name",
            "Pizzaria do Zé",
            "--whatsapp",
            "(11) 91234-5678",
            "--delivery-fee",
            "5.00",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "+5511912345678" in added.output  # stored as E.164
    again = runner.invoke(app, ["tenants", "add", "--slug", "ze", "--name", "X", "--whatsapp", "+5511911112222"])
    assert again.exit_code == 1 and "already exists" in again.output
    listed = runner.invoke(app, ["tenants", "list", "--json"])
    assert [t["slug"] for t in json.loads(listed.output)] == ["ze"]
    shown = runner.invoke(app, ["tenants", "show", "ze"])
    assert "Pizzaria do Zé" in shown.output and "R$ 5,00" in shown.output


def test_menu_import_reports_every_problem_and_exits_1(cli_env: None, tmp_path: Path) -> None:
    doc = json.loads(DEMO_MENU.read_text())
    doc["items"][0]["price"] = "abc"
    doc["items"][4]["available"] = "maybe"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    result = runner.invoke(app, ["menu", "import", "--tenant", "demo", str(bad)])
    assert result.exit_code == 1
    assert "2 problem(s), nothing was imported" in result.output
    assert f"item {doc['items'][0]['sku']} (#0): price" in result.output
    assert f"item {doc['items'][4]['sku']} (#4): available" in result.output
    assert json.loads(runner.invoke(app, ["tenants", "list", "--json"]).output) == []


def test_menu_import_then_reimport_then_show(cli_env: None) -> None:
    first = runner.invoke(app, ["menu", "import", "--tenant", "demo", str(DEMO_MENU)])
    assert first.exit_code == 0, first.output
    assert "created tenant demo" in first.output
    second = runner.invoke(app, ["menu", "import", "--tenant", "demo", str(DEMO_MENU)])
    assert "nothing changed" in second.output
    shown = runner.invoke(app, ["menu", "show", "--tenant", "demo", "--json"])
    items = json.loads(shown.output)
    assert len(items) == len(json.loads(DEMO_MENU.read_text())["items"])
    table = runner.invoke(app, ["menu", "show", "--tenant", "demo"])
    assert "indisponível" in table.output
