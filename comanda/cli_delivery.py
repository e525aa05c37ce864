"""`comanda tenants delivery-areas`: list a restaurant's delivery areas, set them from a JSON file, or clear them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from comanda.cli_common import _run_with_db, err, out
from memory.db import Pool
from memory.repos import delivery_areas as delivery_repo
from memory.repos import tenants as tenant_repo
from memory.repos.delivery_areas import DeliverySetup
from tools.menu.menu_file import DeliveryFile, delivery_problems, delivery_setup
from tools.money import format_brl


def _read(file: Path) -> DeliverySetup:
    """The file's coordinates and areas, or exit 2 listing every problem (as `comanda menu import` does)."""
    try:
        block = DeliveryFile.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        err.print(f"{file}: line {exc.lineno} column {exc.colno}: {exc.msg}")
        raise typer.Exit(2) from None
    except ValidationError as exc:
        for e in exc.errors():
            err.print(f"{file}: {'.'.join(str(p) for p in e['loc']) or '(root)'}: {escape(e['msg'])}")
        raise typer.Exit(2) from None
    problems = delivery_problems(block)
    if block.delivery_areas is None:
        problems.append(("delivery_areas", "missing: a list of areas ([] removes them all)"))
    for field, message in problems:
        err.print(f"{file}: {field}: {escape(message)}")
    if problems:
        raise typer.Exit(2)
    return delivery_setup(block)


def tenants_delivery_areas(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    set_file: Annotated[
        Path | None,
        typer.Option(
            "--set",
            exists=True,
            dir_okay=False,
            readable=True,
            help='JSON {"latitude", "longitude", "delivery_areas": [...]} replacing the stored ones.',
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every area: the flat delivery fee applies.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A restaurant's delivery areas (neighbourhoods/CEP prefixes or radius bands, each with a fee)."""
    if set_file is not None and clear:
        err.print("give --set FILE or --clear, not both")
        raise typer.Exit(2)
    new = _read(set_file) if set_file is not None else None

    async def work(pool: Pool) -> tuple[tenant_repo.Tenant, DeliverySetup] | None:
        async with pool.connection() as conn, conn.transaction():
            found = await tenant_repo.by_slug(conn, tenant)
            if found is None:
                return None
            current = await delivery_repo.setup(conn, found.id)
            wanted = new if new is not None else current.model_copy(update={"areas": []}) if clear else None
            if wanted is not None:
                await delivery_repo.replace(conn, found.id, wanted)
            return found, await delivery_repo.setup(conn, found.id)

    result = _run_with_db(work)
    if result is None:
        err.print(f"[bold red]error:[/] no tenant {tenant!r} (see `comanda tenants list`)")
        raise typer.Exit(1)
    found, setup = result
    if as_json:
        out.print_json(
            json.dumps(
                {"tenant": found.slug, "flat_delivery_fee": str(found.delivery_fee), **setup.model_dump(mode="json")}
            )
        )
        return
    where = f"{setup.latitude}, {setup.longitude}" if setup.latitude is not None else "not set"
    out.print(f"[bold]{found.name}[/] ({found.slug}), coordinates: {where}")
    if not setup.areas:
        out.print(f"no delivery areas: every address pays the flat fee {format_brl(found.delivery_fee, found.locale)}")
        return
    table = Table("area", "where", "fee")
    for area in setup.areas:
        if area.max_km is not None:
            place = f"up to {area.max_km} km"
        else:
            place = ", ".join([*area.neighborhoods, *(f"CEP {p}…" for p in area.cep_prefixes)])
        table.add_row(escape(area.name), escape(place), format_brl(area.fee, found.locale))
    out.print(table)
    out.print("addresses outside every area are refused before checkout")
