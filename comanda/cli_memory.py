"""`comanda customers memories`: what a restaurant remembers about one customer (issue 13)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from comanda.cli_common import _run_with_db, err, out
from memory.db import Pool
from memory.repos import tenants as tenant_repo
from memory.repos.memories import MemoryRow
from tools.memory.service import list_memories

customers_app = typer.Typer(help="Customers of a restaurant.", no_args_is_help=True)


@customers_app.callback()
def customers() -> None:
    """Customers of a restaurant."""  # a group even with one command: `comanda customers memories ...`


@customers_app.command("memories")
def memories(
    tenant: Annotated[str, typer.Option(help="The restaurant's slug.")],
    phone: Annotated[str, typer.Option(help="The customer's WhatsApp number, E.164 (+5511...).")],
    history: Annotated[bool, typer.Option("--history", help="Also the facts later ones replaced.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List what the bot remembers about a customer of one restaurant (never another restaurant's)."""

    async def work(pool: Pool) -> list[MemoryRow] | None:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
            if t is None:
                return None
            return await list_memories(conn, t.id, phone, with_history=history)

    rows = _run_with_db(work)
    if rows is None:
        err.print(f"no restaurant {tenant!r}")
        raise typer.Exit(1)
    for m in rows:
        if as_json:
            out.print(json.dumps(m.model_dump(mode="json", exclude={"tenant_id"}), ensure_ascii=False), soft_wrap=True)
            continue
        replaced = f"  (replaced {m.superseded_at:%Y-%m-%d})" if m.superseded_at else ""
        out.print(f"{m.updated_at:%Y-%m-%d %H:%M}  {m.kind:<10}  {m.text}{replaced}", markup=False, highlight=False)
    if not rows and not as_json:
        out.print("nothing remembered")


def _register_privacy() -> None:
    # the LGPD commands share the `customers` group (comanda/cli_privacy.py)
    from comanda.cli_privacy import register

    register(customers_app)


_register_privacy()
