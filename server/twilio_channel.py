"""The production outbound channel: Twilio's Messages API through the official `twilio` client.

Replies are split at 1,600 characters; every part is recorded before it is sent (idempotent by dedupe key) and
carries a status callback. Proactive messages outside the customer's 24-hour window go as a Content template.
Transient Twilio errors (429, 5xx, network) are retried with backoff; others are recorded with their error code.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from pydantic import BaseModel, SecretStr
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from memory.db import Pool
from memory.privacy import customer_ref
from memory.repos import outbound
from memory.repos.outbound import OutboundKind, OutboundStatus
from memory.repos.tenants import Tenant
from server.splitting import split_message

log = logging.getLogger("comanda.twilio")

# Twilio's states → ours (ours only move forward; see memory/repos/outbound.py)
_STATUS: dict[str, OutboundStatus] = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
_TRANSIENT_HTTP = {429, 500, 502, 503, 504}
_TRANSIENT_CODES = {20429, 20500, 20503}
OUTSIDE_WINDOW = "63016"  # Twilio's code for "free-form message outside the 24-hour window"
# WhatsApp caps a template variable's length
_TEMPLATE_VARIABLE_LIMIT = 1024


def twilio_status(value: str) -> OutboundStatus | None:
    """Our delivery state for a Twilio MessageStatus (None for one we don't track)."""
    return _STATUS.get(value.lower())


class TwilioConfig(BaseModel):
    """How to reach Twilio for one deployment."""

    account_sid: str
    auth_token: SecretStr
    status_callback_url: str | None = None
    api_base_url: str | None = None  # None: Twilio's own; a loopback fake in tests
    notification_content_sid: str | None = None  # the template used outside the 24-hour window
    max_attempts: int = 4
    backoff_s: float = 0.5


class TwilioSendError(RuntimeError):
    """Twilio kept failing with a transient error: the turn should be retried later."""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, TwilioRestException):
        return exc.status in _TRANSIENT_HTTP or (exc.code or 0) in _TRANSIENT_CODES
    return isinstance(exc, aiohttp.ClientError | TimeoutError)


class TwilioChannel:
    """Sends WhatsApp messages through Twilio and records each part in `outbound_messages`."""

    def __init__(self, pool: Pool, config: TwilioConfig) -> None:
        self.pool = pool
        self.config = config
        self._client: Client | None = None

    def _twilio(self) -> Client:
        # the aiohttp session must be made inside the running loop
        if self._client is None:
            client = Client(
                self.config.account_sid,
                self.config.auth_token.get_secret_value(),
                http_client=AsyncTwilioHttpClient(timeout=10),
            )
            if self.config.api_base_url:
                client.api.base_url = self.config.api_base_url
            self._client = client
        return self._client

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            http = self._client.http_client
            if isinstance(http, AsyncTwilioHttpClient):
                await http.close()
            self._client = None

    async def send(
        self,
        tenant: Tenant,
        to: str,
        text: str,
        *,
        kind: OutboundKind = "reply",
        media_url: str | None = None,
        dedupe_key: str | None = None,
    ) -> int:
        """Send `text` (in parts if long); returns the first part's id. Raises TwilioSendError when Twilio is down."""
        if kind != "reply":
            async with self.pool.connection() as conn:
                inside = await outbound.window_open(conn, tenant.id, to)
            if not inside:
                return await self._send_template(tenant, to, text, kind=kind, dedupe_key=dedupe_key)
        first_id = 0
        for j, part in enumerate(split_message(text)):
            media = media_url if j == 0 else None
            key = f"{dedupe_key}.{j}" if dedupe_key else None
            row_id = await self._send_one(tenant, to, part, kind=kind, media_url=media, dedupe_key=key)
            first_id = first_id or row_id
            if row_id < 0:
                return -row_id  # a permanent failure: don't send the rest out of context
        return first_id

    async def _send_template(
        self, tenant: Tenant, to: str, text: str, *, kind: OutboundKind, dedupe_key: str | None
    ) -> int:
        sid = self.config.notification_content_sid
        key = f"{dedupe_key}.t" if dedupe_key else None
        if sid is None:
            async with self.pool.connection() as conn:
                row = await outbound.insert_message(
                    conn,
                    tenant_id=tenant.id,
                    phone=to,
                    body=text,
                    kind=kind,
                    status="failed",
                    dedupe_key=key,
                    error_code=OUTSIDE_WINDOW,
                )
            log.error(
                "not sent to %s: outside the 24-hour window and no COMANDA_TWILIO_NOTIFICATION_CONTENT_SID "
                "is configured (Twilio error %s)",
                customer_ref(tenant.id, to),
                OUTSIDE_WINDOW,
            )
            return row.id
        variables = json.dumps({"1": text[:_TEMPLATE_VARIABLE_LIMIT]})
        row_id = await self._send_one(tenant, to, text, kind=kind, dedupe_key=key, content=(sid, variables))
        return abs(row_id)

    async def _send_one(
        self,
        tenant: Tenant,
        to: str,
        body: str,
        *,
        kind: OutboundKind,
        media_url: str | None = None,
        dedupe_key: str | None = None,
        content: tuple[str, str] | None = None,
    ) -> int:
        """Record and send one message; the row id, negative when Twilio refused it for good."""
        async with self.pool.connection() as conn:
            row = await outbound.insert_message(
                conn,
                tenant_id=tenant.id,
                phone=to,
                body=body,
                kind=kind,
                media_url=media_url,
                dedupe_key=dedupe_key,
                content_sid=content[0] if content else None,
            )
        if row.status != "queued" or row.provider_sid or row.error_code:
            return row.id  # sent by an earlier run of this turn
        params: dict[str, Any] = {
            "to": f"whatsapp:{to}",
            "from_": f"whatsapp:{tenant.whatsapp}",
        }
        if content:
            params["content_sid"], params["content_variables"] = content
        else:
            params["body"] = body
        if media_url:
            params["media_url"] = [media_url]
        if self.config.status_callback_url:
            params["status_callback"] = self.config.status_callback_url
        try:
            message = await self._create(params)
        except TwilioRestException as exc:
            async with self.pool.connection() as conn:
                await outbound.set_status(conn, tenant.id, row.id, "failed", error_code=str(exc.code or exc.status))
            log.error(
                "Twilio refused message #%d to %s: error %s (HTTP %s): %s",
                row.id,
                customer_ref(tenant.id, to),
                exc.code,
                exc.status,
                exc.msg,
            )
            return -row.id
        async with self.pool.connection() as conn:
            await outbound.set_status(
                conn, tenant.id, row.id, twilio_status(message.status or "queued") or "queued", provider_sid=message.sid
            )
        return row.id

    async def _create(self, params: dict[str, Any]) -> Any:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(self.config.max_attempts),
            wait=wait_exponential(multiplier=self.config.backoff_s, max=10),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._twilio().messages.create_async(**params)
        except Exception as exc:
            if _transient(exc):
                code = exc.code if isinstance(exc, TwilioRestException) else type(exc).__name__
                log.error("Twilio still failing after %d attempts (error %s)", self.config.max_attempts, code)
                raise TwilioSendError(f"Twilio unavailable (error {code})") from exc
            raise
        raise AssertionError("unreachable")
