"""A conversation driver for tests: the real graph, the offline model, Postgres checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from conftest import DEMO_MENU

from graph.graph import build_graph
from graph.models import ModelConfig, make_chat_model
from graph.runner import ConversationRunner, TurnResult
from memory.checkpointer import make_checkpointer
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant
from prompts import load_prompt_set
from tools.context import TurnContext
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.payments.provider import PaymentProvider

# a Friday 20:00 in São Paulo: the demo restaurant is open
OPEN_CLOCK = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)


@dataclass
class Chat:
    """One customer talking to one restaurant; `say` runs a turn and returns the bot's reply text."""

    runner: ConversationRunner
    ctx: TurnContext
    transcript: list[tuple[str, str]] = field(default_factory=list)
    last: TurnResult | None = None
    _n: int = 0

    async def say(self, *texts: str) -> str:
        """Send one turn (several texts are coalesced into one turn, as the queue does)."""
        ids = []
        for _ in texts:
            self._n += 1
            ids.append(f"SM{self.ctx.phone[-4:]}{self._n:04d}")
        self.last = await self.runner.run_turn(self.ctx, list(texts), ids)
        reply = "\n".join(self.last.replies)
        self.transcript.append(("\n".join(texts), reply))
        return reply

    def dump(self) -> str:
        """The conversation so far, for assertion messages."""
        return "\n".join(f"> {c}\n< {b}" for c, b in self.transcript)


async def make_runner(pool: Pool, model_spec: str = "offline") -> ConversationRunner:
    """The production graph on the test database."""
    checkpointer = await make_checkpointer(pool)
    graph = build_graph(make_chat_model(ModelConfig(spec=model_spec)), load_prompt_set(), checkpointer=checkpointer)
    return ConversationRunner(graph)


async def open_chat(
    pool: Pool,
    phone: str,
    *,
    payments: PaymentProvider | None = None,
    runner: ConversationRunner | None = None,
    public_base_url: str = "http://127.0.0.1:8000",
    clock: Any = None,
) -> Chat:
    """A chat with the demo restaurant."""
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None, "import the demo menu first"
    ctx = TurnContext(
        pool=pool,
        tenant=tenant,
        phone=phone,
        payments=payments,
        public_base_url=public_base_url,
        clock=clock or (lambda: OPEN_CLOCK),
    )
    return Chat(runner or await make_runner(pool), ctx)


async def demo_customer(pool: Pool, embedder: Embedder, phone: str) -> tuple[Tenant, int]:
    """The demo restaurant (its menu imported) and a customer who has ordered there before: registered, with a name
    and a default delivery address, so a chat goes straight to their order. Returns the tenant and customer id."""
    await import_menu(pool, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
        assert tenant is not None
        row = await (
            await conn.execute(
                "INSERT INTO customers (tenant_id, phone, name) VALUES (%s, %s, 'Ana Souza') RETURNING id",
                (tenant.id, phone),
            )
        ).fetchone()
        assert row is not None
        address = await (
            await conn.execute(
                """INSERT INTO addresses (tenant_id, customer_id, street, number, neighborhood, city, state)
                   VALUES (%s, %s, 'Rua das Flores', '123', 'Centro', 'São Paulo', 'SP') RETURNING id""",
                (tenant.id, row["id"]),
            )
        ).fetchone()
        assert address is not None
        await conn.execute("UPDATE customers SET default_address_id = %s WHERE id = %s", (address["id"], row["id"]))
    return tenant, int(row["id"])
