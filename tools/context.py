"""What every tool receives, hidden from the model: the tenant, the customer's phone, the database, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memory.db import Pool
from memory.repos.tenants import Tenant
from tools.payments.provider import PaymentProvider
from tools.privacy.links import ExportLinks


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TurnContext:
    """The run-time context of one conversation turn (LangGraph `context`), injected into tools.

    Nothing here is visible to or settable by the model: tenant, phone and prices come from us.
    """

    pool: Pool
    tenant: Tenant
    phone: str
    payments: PaymentProvider | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    clock: Callable[[], datetime] = _utcnow
    export_links: ExportLinks | None = None  # signs LGPD export links; None: exports can't be sent by WhatsApp
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def thread_id(self) -> str:
        """The conversation's checkpoint thread: one per tenant and customer phone."""
        return thread_id(self.tenant.id, self.phone)


def thread_id(tenant_id: int, phone: str) -> str:
    """`{tenant_id}:{phone}`, the LangGraph thread of a conversation."""
    return f"{tenant_id}:{phone}"


def conversation_of(context: object) -> str | None:
    """The thread id of the turn a tool runs in, for log lines (None when it runs outside a turn)."""
    return context.thread_id if isinstance(context, TurnContext) else None
