"""Tenants looked up on every message, cached for a few seconds (menus and numbers change rarely)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from memory.db import Pool
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant


@dataclass
class TenantDirectory:
    """Tenants by WhatsApp number, cached briefly: the webhook answers in milliseconds."""

    pool: Pool
    ttl_s: float = 30.0
    _cache: dict[str | int, tuple[float, Tenant | None]] = field(default_factory=dict)

    async def by_number(self, number: str) -> Tenant | None:
        """The tenant that owns this number (None if nobody does)."""
        return await self._get(number)

    async def by_id(self, tenant_id: int) -> Tenant | None:
        """The tenant with this id (None if it was deleted)."""
        return await self._get(tenant_id)

    async def _get(self, key: str | int) -> Tenant | None:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.pool.connection() as conn:
            if isinstance(key, int):
                tenant = await tenant_repo.by_id(conn, key)
            else:
                tenant = await tenant_repo.by_whatsapp(conn, key)
        self._cache[key] = (now + self.ttl_s, tenant)
        return tenant
