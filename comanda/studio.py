"""The graph LangGraph Studio (`langgraph dev`) and LangGraph Platform run: `langgraph.json` points here.

A run's context is plain JSON, `{"tenant": "demo", "phone": "+5511999990000"}` (graph/run_context.py); everything
else a turn needs is built here once per process from `Settings`: the chat model, the prompt set, the Postgres pool
(the embedded Postgres under COMANDA_DATA_DIR when DATABASE_URL is unset, migrated and seeded with the demo
restaurant, joined if `comanda serve` already runs it) and the payment provider. The checkpointer is the platform's.

This lives in `comanda`, the composition root, and not in `graph`: building from settings needs the embedded
start-up, the migrations and the payment wiring, and `graph` must not import `comanda` (dependencies point one
way). The graph itself is the production one; only its context schema differs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from comanda.runtime import Infra, start_infra
from comanda.settings import Settings
from comanda.wiring import model_config, payment_provider
from graph.graph import build_graph
from graph.models import make_chat_model
from graph.run_context import ConversationContext
from graph.state import ConversationState
from memory.db import Pool, open_pool
from memory.embeddings import default_embedder
from memory.privacy import mask_langsmith_traces
from memory.repos import tenants as tenant_repo
from prompts import load_prompt_set
from tools.context import TurnContext
from tools.payments.provider import PaymentProvider

StudioGraph = CompiledStateGraph[ConversationState, Any, ConversationState, ConversationState]


# one per event loop: a pool belongs to the loop that opened it, and the dev server runs its API and its run queue
# on a loop each
_built: dict[asyncio.AbstractEventLoop, asyncio.Task[StudioGraph]] = {}


async def make_graph() -> StudioGraph:
    """The conversation graph with a plain context; the process's resources are built on the first call."""
    loop = asyncio.get_running_loop()
    if loop not in _built:
        _built[loop] = loop.create_task(_build())
    return await asyncio.shield(_built[loop])


async def _build() -> StudioGraph:
    # start-up blocks (pg_ctl, migration files, model weights): keep it off the server's event loop, which
    # `langgraph dev` watches for blocking calls
    settings, infra = await asyncio.to_thread(_start)
    pool = await open_pool(infra.database_url, max_size=4, name="studio")
    payments = await asyncio.to_thread(payment_provider, settings, pool)
    model = make_chat_model(model_config(settings))
    prompts = await asyncio.to_thread(load_prompt_set)
    context = ConversationContext.resolved_by(_resolver(pool, payments, settings.public_base_url))
    return await asyncio.to_thread(build_graph, model, prompts, context_schema=context)


def _start() -> tuple[Settings, Infra]:
    settings = Settings()
    settings.check_production_parts()
    # Studio's runs go to LangSmith when LANGSMITH_TRACING is on: masked like our processes' (comanda/logs.py)
    mask_langsmith_traces()
    infra = start_infra(settings, need_redis=False)
    # migrations and the demo seed in a process of their own: they read files from inside a coroutine, which
    # `langgraph dev` refuses on any thread's event loop
    env = {**os.environ, "DATABASE_URL": infra.database_url}
    subprocess.run([sys.executable, "-m", "comanda.cli", "seed"], env=env, check=True, capture_output=True)
    # the menu tools embed the customer's words: load the weights now, not inside the first run
    default_embedder()
    return settings, infra


def _resolver(
    pool: Pool, payments: PaymentProvider, public_base_url: str
) -> Callable[[ConversationContext], Awaitable[TurnContext]]:
    async def resolve(context: ConversationContext) -> TurnContext:
        async with pool.connection() as conn:
            tenant = await tenant_repo.by_slug(conn, context.tenant)
        if tenant is None:
            raise ValueError(f"no restaurant {context.tenant!r}: see `comanda tenants list` (the demo one is 'demo')")
        return TurnContext(
            pool=pool, tenant=tenant, phone=context.phone, payments=payments, public_base_url=public_base_url
        )

    return resolve
