"""`comanda customers show|export|forget|privacy-notice`: staff acting on a customer's LGPD rights (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from comanda.cli_common import _run_with_db, err, out
from memory.db import Pool
from memory.repos import privacy as privacy_repo
from memory.repos import tenants as tenant_repo
from tools.customers.service import to_e164
from tools.privacy.service import Erasure, audit_export, erase_customer, export_document

Tenant = Annotated[str, typer.Option("--tenant", help="The restaurant's slug.")]
Phone = Annotated[str, typer.Option("--phone", help="The customer's WhatsApp number, E.164 (+5511...).")]


def _e164(phone: str) -> str:
    # staff type numbers the way they read them ("11 98765-4321"); the data is keyed by E.164
    try:
        return to_e164(phone)
    except ValueError:
        err.print(f"{phone!r} is not a phone number (try +5511987654321)")
        raise typer.Exit(2) from None


def _document(tenant: str, phone: str, *, audit: bool) -> dict[str, Any] | None:
    phone = _e164(phone)

    async def work(pool: Pool) -> dict[str, Any] | str | None:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
        if t is None:
            return "no-tenant"
        doc = await export_document(pool, t.id, phone)
        if doc is not None and audit:
            await audit_export(pool, t.id, phone, actor="staff")
        return doc

    found = _run_with_db(work)
    if found == "no-tenant":
        err.print(f"no restaurant {tenant!r}")
        raise typer.Exit(1)
    if found is None:
        err.print(f"no data held about {phone} at {tenant}")
        raise typer.Exit(3)
    assert isinstance(found, dict)
    return found


def show(tenant: Tenant, phone: Phone) -> None:
    """A customer's profile, addresses, consents and counts of what else is held."""
    phone = _e164(phone)
    doc = _document(tenant, phone, audit=False)
    assert doc is not None
    profile = doc.get("profile") or {}
    out.print(f"{phone}  {profile.get('name') or '(no profile)'}  {profile.get('email') or ''}", markup=False)
    for a in doc["addresses"]:
        out.print(f"  address: {a['street']}, {a['number']} - {a['neighborhood']}, {a['city']}", markup=False)
    for c in doc["consents"]:
        out.print(f"  consent {c['notice_version']}: {'accepted' if c['accepted'] else 'refused'} {c['at']}")
    out.print(f"  {len(doc['orders'])} orders, {len(doc['memories'])} memories, {len(doc['messages'])} messages")


def export(
    tenant: Tenant,
    phone: Phone,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the JSON here, not stdout.")] = None,
) -> None:
    """Everything held about a customer as one JSON document (their LGPD copy); exit 3 if nothing is held."""
    doc = _document(tenant, phone, audit=True)
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        out.print(f"wrote {output}")


def forget(
    tenant: Tenant,
    phone: Phone,
    yes: Annotated[bool, typer.Option("--yes", help="Don't ask for confirmation.")] = False,
) -> None:
    """Erase a customer: profile, addresses, memories, messages, conversation; orders stay, anonymised."""
    phone = _e164(phone)
    if not yes and not typer.confirm(f"Erase everything held about {phone} at {tenant}? This can't be undone"):
        err.print("nothing erased")
        raise typer.Exit(1)

    async def work(pool: Pool) -> Erasure | None:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
        if t is None:
            return None
        return await erase_customer(pool, t.id, phone, actor="staff")

    done = _run_with_db(work)
    if done is None:
        err.print(f"no restaurant {tenant!r}")
        raise typer.Exit(1)
    if not done.erased:
        out.print(f"nothing held about {phone} at {tenant} (already erased?)")
        return
    counts = ", ".join(f"{n} {table}" for table, n in sorted(done.counts.items()))
    out.print(f"erased {phone} at {tenant}: {counts}", markup=False)


def privacy_notice(
    tenant: Tenant,
    url: Annotated[str | None, typer.Option("--url", help="The restaurant's privacy policy (https://...).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the link.")] = False,
) -> None:
    """Show or set the privacy policy link new customers see before their data is saved."""
    if url is not None and not url.startswith(("https://", "http://")):
        err.print("--url must start with https://")
        raise typer.Exit(2)

    async def work(pool: Pool) -> tuple[bool, str | None]:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
            if t is None:
                return False, None
            if url is not None or clear:
                await privacy_repo.set_privacy_url(conn, t.id, None if clear else url)
            return True, await privacy_repo.privacy_url(conn, t.id)

    found, current = _run_with_db(work)
    if not found:
        err.print(f"no restaurant {tenant!r}")
        raise typer.Exit(1)
    out.print(current or "(no privacy link: customers see the notice without one)", markup=False)


def register(app: typer.Typer) -> None:
    """Add the commands to `comanda customers`."""
    app.command("show")(show)
    app.command("export")(export)
    app.command("forget")(forget)
    app.command("privacy-notice")(privacy_notice)
