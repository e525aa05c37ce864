"""Outbound channels: how a message reaches a customer (the console in the embedded mode, Twilio in production)."""

from __future__ import annotations

import logging

from memory.db import Pool
from memory.privacy import customer_ref
from memory.repos import outbound
from memory.repos.outbound import OutboundKind
from memory.repos.tenants import Tenant
from tools.orders.notify import Notifier

log = logging.getLogger("comanda.console")


# one protocol for "sends a message to a customer": tools name it (they can't import the server), channels fit it
OutboundChannel = Notifier


class ConsoleChannel:
    """The embedded channel: a message is "sent" once recorded; `comanda chat` reads the rows back."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

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
        """Record the message as sent; the log names the row and the conversation, never the words or the phone."""
        async with self.pool.connection() as conn:
            message = await outbound.insert_message(
                conn,
                tenant_id=tenant.id,
                phone=to,
                body=text,
                kind=kind,
                media_url=media_url,
                status="sent",
                dedupe_key=dedupe_key,
            )
        # the text holds names, addresses, PIX codes and signed pay links: its length is all a log needs
        log.info(
            "sent %s #%d to %s (%d chars%s)",
            kind,
            message.id,
            customer_ref(tenant.id, to),
            len(text),
            ", with an image" if media_url else "",
        )
        return message.id
