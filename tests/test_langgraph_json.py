"""The graph that `langgraph.json` points at loads and runs a turn (what LangGraph Platform would do)."""

from __future__ import annotations

import importlib.util
import json

from conftest import DEMO_MENU, ROOT
from langchain_core.messages import AIMessage, HumanMessage

from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from tools.context import TurnContext
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json


async def test_langgraph_json_graph_runs_a_turn(db: Pool, embedder: Embedder) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    config = json.loads((ROOT / "langgraph.json").read_text())
    path, _, attr = config["graphs"]["comanda"].partition(":")
    spec = importlib.util.spec_from_file_location("langgraph_entry", ROOT / path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = getattr(module, attr)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    out = await graph.ainvoke(
        {"messages": [HumanMessage("qual a taxa de entrega?")]},
        context=TurnContext(pool=db, tenant=tenant, phone="+5511999990009"),
    )
    reply = out["messages"][-1]
    assert isinstance(reply, AIMessage)
    assert "R$ 7,50" in reply.text  # the demo restaurant's fee, read from the database by the tool
