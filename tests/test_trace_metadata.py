"""Every turn carries the restaurant and the prompt set as run metadata: what LangSmith shows and filters by."""

from __future__ import annotations

from pathlib import Path

from conftest import DEMO_MENU
from conversation_support import open_chat
from langchain_core.tracers.context import collect_runs

from comanda.settings import Settings
from comanda.wiring import build_conversation
from memory.db import Pool
from memory.embeddings import Embedder
from prompts import load_prompt_set
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json


async def test_a_turn_is_traced_with_its_tenant_and_prompt_set(db: Pool, embedder: Embedder, tmp_path: Path) -> None:
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    conversation = await build_conversation(Settings(data_dir=tmp_path, _env_file=None), db)
    chat = await open_chat(db, "+5511999990077", runner=conversation.runner)
    # a tracer registered for the context, the way LANGSMITH_TRACING=true registers LangSmith's
    with collect_runs() as tracer:
        await chat.say("oi")
    assert tracer.traced_runs, "no run was traced"
    metadata = tracer.traced_runs[0].extra["metadata"]
    assert metadata["tenant"] == "demo"
    assert metadata["prompt_set"] == load_prompt_set().label
