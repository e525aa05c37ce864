"""Twilio's webhooks: inbound WhatsApp messages (queued at once) and delivery status callbacks."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from twilio.request_validator import RequestValidator

from memory.db import Pool
from memory.repos import outbound
from server.inbound import MalformedWebhook, parse_inbound
from server.queue import InboundQueue
from server.tenants import TenantDirectory
from server.twilio_channel import twilio_status

log = logging.getLogger("comanda.webhook")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@dataclass
class TwilioWebhookDeps:
    """What the Twilio routes need."""

    pool: Pool
    queue: InboundQueue
    auth_token: str
    public_base_url: str
    tenants: TenantDirectory


def public_url(base: str, request: Request) -> str:
    """The URL Twilio signed: our public base + the path and query (behind a proxy `request.url` is internal)."""
    url = base.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


def _refused(reason: str, status: int) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=status)


def twilio_router(deps: TwilioWebhookDeps) -> APIRouter:
    """`POST /twilio/whatsapp` and `POST /twilio/status`."""
    router = APIRouter(prefix="/twilio", tags=["twilio"])
    validator = RequestValidator(deps.auth_token)

    async def signed_form(request: Request) -> Mapping[str, Any] | JSONResponse:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            return _refused("missing X-Twilio-Signature", 403)
        form = dict(await request.form())
        if not validator.validate(public_url(deps.public_base_url, request), form, signature):
            log.warning("refused a webhook with a wrong signature from %s", request.client)
            return _refused("invalid X-Twilio-Signature", 403)
        return form

    @router.post("/whatsapp", response_class=Response, summary="Inbound WhatsApp message (Twilio webhook)")
    async def whatsapp(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, JSONResponse):
            return form
        try:
            message = parse_inbound(form)
        except MalformedWebhook as exc:
            return _refused(str(exc), 400)
        tenant = await deps.tenants.by_number(message.to_phone)
        if tenant is None:
            log.warning("message %s to %s: no tenant has this number", message.message_sid, message.to_phone)
            return _refused(f"no restaurant uses the number {message.to_phone}", 404)
        if not await deps.queue.enqueue(tenant.id, message):
            log.info("duplicate delivery of %s ignored", message.message_sid)
        return Response(EMPTY_TWIML, media_type="application/xml")

    @router.post("/status", response_class=Response, summary="Delivery status callback (Twilio)")
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, JSONResponse):
            return form
        sid, value = str(form.get("MessageSid") or ""), str(form.get("MessageStatus") or "")
        if not sid or not value:
            return _refused("MessageSid and MessageStatus are required", 400)
        state = twilio_status(value)
        if state is None:
            return _refused(f"unknown MessageStatus {value!r}", 400)
        error = str(form.get("ErrorCode") or "") or None
        async with deps.pool.connection() as conn:
            updated = await outbound.set_status_by_provider_sid(conn, sid, state, error)
        if updated is None:
            log.warning("status %s for %s, a message we didn't send", value, sid)
        elif error:
            log.error("message %s to %s: %s (Twilio error %s)", sid, updated.phone, value, error)
        return Response(status_code=204)

    return router
