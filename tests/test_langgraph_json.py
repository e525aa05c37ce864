"""The graph factory `langgraph.json` points at runs a turn from a plain run context (what LangGraph Platform sends)."""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path

import pytest
from conftest import DEMO_MENU, ROOT
from langchain_core.messages import AIMessage, HumanMessage

from memory.db import Pool
from memory.embeddings import Embedder
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json


async def test_langgraph_json_factory_runs_a_turn_from_tenant_and_phone(
    db: Pool, embedder: Embedder, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COMANDA_DATA_DIR", str(tmp_path))
    config = json.loads((ROOT / "langgraph.json").read_text())
    path, _, attr = config["graphs"]["comanda"].partition(":")
    spec = importlib.util.spec_from_file_location("langgraph_entry", ROOT / path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory = getattr(module, attr)
    graph = await factory() if inspect.iscoroutinefunction(factory) else factory()
    # the platform sends the context as JSON and supplies its own checkpointer
    schema = graph.get_context_jsonschema()
    assert schema is not None and set(schema["properties"]) == {"tenant", "phone"}
    out = await graph.ainvoke(
        {"messages": [HumanMessage("qual a taxa de entrega?")]},
        context={"tenant": "demo", "phone": "+5511999990009"},
    )
    reply = out["messages"][-1]
    assert isinstance(reply, AIMessage)
    assert "R$ 7,50" in reply.text  # the demo restaurant's fee, read from the database by the tool
