"""`POST /webhooks/asaas/{tenant_slug}`: token-checked, stored, answered 200 at once, processed after the answer."""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memory.db import Pool
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from tools.orders.notify import Notifier
from tools.payments import asaas_events
from tools.payments.asaas import PROVIDER
from tools.payments.keys import KeyBox

log = logging.getLogger("comanda.asaas")
TOKEN_HEADER = b"asaas-access-token"


@dataclass
class AsaasWebhookDeps:
    """What the route needs, handed in by the composition root."""

    pool: Pool
    keys: KeyBox
    notifier: Notifier | None = None


class _Payment(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=100)


class AsaasEvent(BaseModel):
    """The part of Asaas's event body we rely on; the whole body is stored as it came."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=200)
    event: str = Field(min_length=1, max_length=100)
    payment: _Payment | None = None


class AsaasAck(BaseModel):
    """The answer Asaas counts as delivered (200), whether this delivery was new or a replay."""

    received: Literal[True] = True
    duplicate: bool


def asaas_router(deps: AsaasWebhookDeps) -> APIRouter:
    """The Asaas webhook route."""
    router = APIRouter(tags=["payments"])

    @router.post("/webhooks/asaas/{tenant_slug}", response_model=AsaasAck)
    async def asaas_webhook(tenant_slug: str, request: Request, background: BackgroundTasks) -> AsaasAck:
        """Store the event (its id makes a replay a no-op), answer 200, apply it after answering."""
        tenant_id = await _authorised_tenant(deps, tenant_slug, request)
        event = _parse(await request.body())
        async with deps.pool.connection() as conn:
            stored = await payment_repo.store_event(
                conn,
                tenant_id=tenant_id,
                provider=PROVIDER,
                event_id=event.id,
                event_type=event.event,
                provider_ref=event.payment.id if event.payment else None,
                payload=event.model_dump(mode="json"),
            )
        if stored is None:
            return AsaasAck(duplicate=True)
        background.add_task(_process, deps, stored.id)
        return AsaasAck(duplicate=False)

    return router


async def _authorised_tenant(deps: AsaasWebhookDeps, slug: str, request: Request) -> int:
    # raw header bytes: compare_digest on str raises TypeError for non-ASCII, and that must be a 401, not a 500
    given = next((value for name, value in request.scope["headers"] if name == TOKEN_HEADER), None)
    async with deps.pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, slug)
        settings = await payment_repo.provider_settings(conn, tenant.id) if tenant else {}
    expected = deps.keys.open(settings["webhook_token"]).encode() if settings.get("webhook_token") else None
    if tenant is None or expected is None or given is None or not hmac.compare_digest(expected, given):
        # names the restaurant, never the token
        log.warning("Asaas webhook for %r refused: missing or wrong token", slug)
        raise HTTPException(401, "missing or invalid asaas-access-token")
    return tenant.id


def _parse(body: bytes) -> AsaasEvent:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HTTPException(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HTTPException(400, "body must be a JSON object")
    try:
        return AsaasEvent.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise HTTPException(400, reasons) from exc


async def _process(deps: AsaasWebhookDeps, event_row_id: int) -> None:
    try:
        outcome = await asaas_events.process(deps.pool, deps.notifier, event_row_id)
        log.info("Asaas event #%s: %s", event_row_id, outcome)
    except Exception:
        # stored: the jobs worker processes it later
        log.exception("Asaas event #%s failed; left for the jobs worker", event_row_id)
