"""`comanda tenants payments`: connect a restaurant to its own Asaas account. Secrets are read from environment
variables (never from the command line, which shells keep in their history), never printed, and sealed at rest
when COMANDA_ASAAS_KEY_ENCRYPTION_KEY is set."""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer

from comanda.cli_common import _run_with_db, _settings, err, out
from comanda.wiring import key_box
from memory.db import Pool
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo


def _secret(var: str, what: str) -> str:
    value = os.environ.get(var, "").strip()
    if not value:
        err.print(f"[bold red]error:[/] the environment variable {var} (the {what}) is not set or empty")
        raise typer.Exit(2)
    return value


def tenants_payments(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    provider: Annotated[Literal["asaas", "none"], typer.Option("--provider", help="asaas, or none to disconnect.")],
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Environment variable holding the Asaas API key.")
    ] = None,
    webhook_token_env: Annotated[
        str | None,
        typer.Option("--webhook-token-env", help="Environment variable holding the webhook's authentication token."),
    ] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox/--production", help="Asaas's sandbox or production.")] = True,
    pix_expiry_minutes: Annotated[
        int | None, typer.Option("--pix-expiry-minutes", min=5, max=1440, help="Minutes an unpaid PIX waits.")
    ] = None,
) -> None:
    """Set the restaurant's payment account (each restaurant has its own Asaas key and webhook token)."""
    settings = _settings()
    doc: dict[str, object] = {}
    if provider == "asaas":
        if not api_key_env or not webhook_token_env:
            err.print("[bold red]error:[/] --provider asaas needs --api-key-env and --webhook-token-env")
            raise typer.Exit(2)
        box = key_box(settings)
        api_key = _secret(api_key_env, "Asaas API key")
        token = _secret(webhook_token_env, "webhook token")
        doc = {
            "provider": "asaas",
            "sandbox": sandbox,
            "api_key": box.seal(api_key),
            "webhook_token": box.seal(token),
            "sealed": box.seals,
        }

    async def work(pool: Pool) -> bool:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
            if t is None:
                return False
            await payment_repo.set_provider_settings(conn, t.id, doc)
            if pix_expiry_minutes is not None:
                await conn.execute(
                    "UPDATE tenants SET pix_expiry_minutes = %s WHERE id = %s", (pix_expiry_minutes, t.id)
                )
        return True

    if not _run_with_db(work):
        err.print(f"[bold red]error:[/] no tenant {tenant!r} (see `comanda tenants list`)")
        raise typer.Exit(1)
    if provider == "none":
        out.print(f"{tenant}: no online payment provider (cash only).", highlight=False)
        return
    where = "sandbox" if sandbox else "production"
    stored = "encrypted" if doc["sealed"] else "in plain text (set COMANDA_ASAAS_KEY_ENCRYPTION_KEY to encrypt)"
    out.print(f"{tenant}: Asaas ({where}) connected; key and webhook token stored {stored}.", highlight=False)
    out.print(f"Webhook URL for Asaas: {settings.public_base_url.rstrip('/')}/webhooks/asaas/{tenant}", highlight=False)
