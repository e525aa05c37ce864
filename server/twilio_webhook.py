"""Twilio's webhooks: inbound WhatsApp messages (queued at once) and delivery status callbacks."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from psycopg import Error as PostgresError
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError
from twilio.request_validator import RequestValidator

from memory.db import Pool
from memory.repos import handoffs, outbound, usage
from memory.repos.tenants import Tenant
from prompts import PromptSet, load_prompt_set
from server.abuse import PhoneRateLimit
from server.channels import OutboundChannel
from server.deadline import within
from server.inbound import InboundMessage, MalformedWebhook, parse_inbound
from server.metrics import OVER_QUOTA, RATE_LIMITED, WEBHOOKS
from server.queue import InboundQueue, conversation_key
from server.tenants import TenantDirectory, TenantLookupUnavailable
from server.twilio_channel import twilio_status

_ONGOING_KEPT = 100_000  # conversations remembered as under way per API process
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
    # Twilio gives up after 15 s. The tenant lookup is bounded by `tenants.lookup_timeout_s` (2 s), the queue by
    # this, the status update by `status_timeout_s`: an answer within ~5 s whatever Postgres and Redis do.
    enqueue_timeout_s: float = 3.0
    status_timeout_s: float = 3.0
    retry_after_s: int = 5
    # a phone flooding a restaurant: past the limit, one polite reply through `notifier`, then silence
    limiter: PhoneRateLimit | None = None
    notifier: OutboundChannel | None = None
    prompts: PromptSet | None = None
    # conversations are metered against the restaurant's monthly quota (memory/repos/usage.py); bounded apart, and
    # a metering failure lets the message through: a quota must never cost a customer their answer
    meter_usage: bool = True
    usage_timeout_s: float = 1.0


def public_url(base: str, request: Request) -> str:
    """The URL Twilio signed: our public base + the path and query (behind a proxy `request.url` is internal)."""
    url = base.rstrip("/") + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


def _refused(reason: str, status: int) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=status)


# what a store that is down or hung raises through our calls (OSError: a socket that failed outside the clients)
_UNAVAILABLE = (TimeoutError, PoolTimeout, PostgresError, RedisError, OSError)


def twilio_router(deps: TwilioWebhookDeps) -> APIRouter:
    """`POST /twilio/whatsapp` and `POST /twilio/status`."""
    router = APIRouter(prefix="/twilio", tags=["twilio"])
    validator = RequestValidator(deps.auth_token)
    prompts = deps.prompts or (load_prompt_set() if deps.limiter is not None or deps.meter_usage else None)

    # conversations known to be under way, until when (monotonic): most messages belong to one, and asking
    # Postgres again for each was a query on every webhook
    ongoing: dict[tuple[int, str], float] = {}

    async def over_quota(tenant: Tenant, message: InboundMessage) -> bool:
        if not deps.meter_usage:
            return False
        conv, now = (tenant.id, message.from_phone), time.monotonic()
        if ongoing.get(conv, 0.0) > now:
            return False
        try:
            admission, left_s = await within(_admit(deps.pool, tenant.id, message.from_phone), deps.usage_timeout_s)
        except _UNAVAILABLE as exc:
            log.warning("usage of message %s not metered: %s: %s", message.message_sid, type(exc).__name__, exc)
            return False
        if left_s > 0:
            if len(ongoing) >= _ONGOING_KEPT:
                ongoing.clear()  # a crude bound: forgetting only costs a query per customer
            # an hour at most: an erasure (LGPD) may delete the record, and the next message should count anew
            ongoing[conv] = now + min(left_s, 3600.0)
        if admission != "over_quota":
            return False
        OVER_QUOTA.labels(tenant.slug).inc()
        WEBHOOKS.labels("over_quota", tenant.slug).inc()
        # staff are told and get the customer's words: a ticket in the console's inbox, nothing dropped silently
        log.error(
            "%s is over its monthly conversation quota: message %s goes to staff", tenant.slug, message.message_sid
        )
        try:
            await within(_to_staff(deps.pool, tenant, message), deps.status_timeout_s)
        except Exception:
            log.exception("could not hand message %s over to staff", message.message_sid)
            raise
        if deps.notifier is not None and prompts is not None:
            text = prompts.reply("limits.over_quota", tenant.locale)
            # once a day per customer, however many messages they send
            key = f"quota:{message.from_phone}:{date.today().isoformat()}"
            try:
                await within(deps.notifier.send(tenant, message.from_phone, text, dedupe_key=key), 5.0)
            except Exception:
                log.exception("could not tell %s about the quota", message.from_phone)
        return True

    async def rate_limited(tenant: Tenant, phone: str, sid: str) -> bool:
        if deps.limiter is None:
            return False
        try:
            verdict = await within(deps.limiter.check(tenant.id, phone, sid), deps.enqueue_timeout_s)
        except _UNAVAILABLE as exc:
            # the limiter's Redis is the queue's: the enqueue that follows reports the outage
            log.warning("rate limit unavailable for message %s: %s: %s", sid, type(exc).__name__, exc)
            return False
        if verdict == "ok":
            return False
        RATE_LIMITED.labels(tenant.slug, "replied" if verdict == "reply" else "silent").inc()
        WEBHOOKS.labels("rate_limited", tenant.slug).inc()
        log.warning("message %s from %s refused by the rate limit (%s)", sid, phone, verdict)
        if verdict == "reply" and deps.notifier is not None and prompts is not None:
            text = prompts.reply("limits.rate_limited", tenant.locale)
            try:
                await within(deps.notifier.send(tenant, phone, text, dedupe_key=f"ratelimit:{sid}"), 5.0)
            except Exception:
                log.exception("could not tell %s about the rate limit", phone)
        return True

    def unavailable(reason: str) -> JSONResponse:
        # 503 + Retry-After: Twilio (and any proxy) may try again; our dedupe keeps a retry from queueing twice.
        # The reason names no host or error text: it goes to whoever called us.
        return JSONResponse({"detail": reason}, status_code=503, headers={"Retry-After": str(deps.retry_after_s)})

    async def signed_form(request: Request) -> Mapping[str, Any] | JSONResponse:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            WEBHOOKS.labels("forged", "").inc()
            return _refused("missing X-Twilio-Signature", 403)
        form = dict(await request.form())
        if not validator.validate(public_url(deps.public_base_url, request), form, signature):
            log.warning("refused a webhook with a wrong signature from %s", request.client)
            WEBHOOKS.labels("forged", "").inc()
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
            WEBHOOKS.labels("malformed", "").inc()
            return _refused(str(exc), 400)
        try:
            tenant = await deps.tenants.by_number(message.to_phone)
        except TenantLookupUnavailable as exc:
            log.error("message %s refused with 503: %s", message.message_sid, exc)
            WEBHOOKS.labels("unavailable", "").inc()
            return unavailable("the restaurant directory is unavailable, try again")
        if tenant is None:
            log.warning("message %s to %s: no tenant has this number", message.message_sid, message.to_phone)
            WEBHOOKS.labels("unknown_number", "").inc()
            return _refused(f"no restaurant uses the number {message.to_phone}", 404)
        if await rate_limited(tenant, message.from_phone, message.message_sid):
            return Response(EMPTY_TWIML, media_type="application/xml")
        try:
            if await over_quota(tenant, message):
                return Response(EMPTY_TWIML, media_type="application/xml")
        except _UNAVAILABLE:
            # the message reached neither the bot nor staff: Twilio must try again
            return unavailable("the message can't be stored right now, try again")
        try:
            added = await within(deps.queue.enqueue(tenant.id, message), deps.enqueue_timeout_s)
        except _UNAVAILABLE as exc:
            # if the enqueue lands after all, Twilio's retry is answered as a duplicate: nothing queues twice
            log.error(
                "message %s refused with 503, queue unavailable: %s: %s", message.message_sid, type(exc).__name__, exc
            )
            WEBHOOKS.labels("unavailable", tenant.slug).inc()
            return unavailable("the message queue is unavailable, try again")
        WEBHOOKS.labels("accepted" if added else "duplicate", tenant.slug).inc()
        if not added:
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
        try:
            updated = await within(_set_status(deps.pool, sid, state, error), deps.status_timeout_s)
        except _UNAVAILABLE as exc:
            log.error("status %s for %s refused with 503: %s: %s", value, sid, type(exc).__name__, exc)
            return unavailable("delivery states can't be stored right now, try again")
        if updated is None:
            log.warning("status %s for %s, a message we didn't send", value, sid)
        elif error:
            log.error("message %s to %s: %s (Twilio error %s)", sid, updated.phone, value, error)
        return Response(status_code=204)

    return router


async def _set_status(
    pool: Pool, sid: str, state: outbound.OutboundStatus, error: str | None
) -> outbound.OutboundMessage | None:
    async with pool.connection() as conn:
        return await outbound.set_status_by_provider_sid(conn, sid, state, error)


async def _admit(pool: Pool, tenant_id: int, phone: str) -> tuple[usage.Admission, float]:
    async with pool.connection() as conn:
        return await usage.admit(conn, tenant_id, phone)


async def _to_staff(pool: Pool, tenant: Tenant, message: InboundMessage) -> None:
    async with pool.connection() as conn, conn.transaction():
        ticket, _ = await handoffs.open_ticket(
            conn,
            tenant_id=tenant.id,
            thread_id=conversation_key(tenant.id, message.from_phone),
            phone=message.from_phone,
            customer_id=None,
            reason="over_quota",
            summary="The restaurant's monthly conversation quota is used up: the bot didn't answer.",
        )
        # by MessageSid: a Twilio retry of this message must not put it on the ticket twice
        await handoffs.add_message(
            conn, tenant.id, ticket.id, "customer", message.text(), message_sid=message.message_sid
        )
