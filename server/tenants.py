"""Tenants looked up on every message, cached (menus and numbers change rarely) and served stale in an outage."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from memory.db import Pool
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant
from server.deadline import wait_quietly

log = logging.getLogger(__name__)

Key = str | int
TENANT_TTL_S = 30.0


class TenantLookupUnavailable(Exception):
    """Postgres didn't answer a lookup in time and nothing was cached: the caller should ask to be retried."""


@dataclass
class TenantDirectory:
    """Tenants by WhatsApp number or id, cached: the webhook answers in milliseconds, and keeps answering in an outage.

    A cached tenant older than `ttl_s` is still answered at once while one lookup per key refreshes it in the
    background (stale-while-revalidate), and it stays in use for as long as refreshing fails: a message for a
    restaurant we knew a minute ago belongs on the queue even while Postgres is down. Only a key never seen (or
    one cached as unknown, which a new tenant may have claimed since) waits for Postgres, at most
    `lookup_timeout_s`.
    """

    pool: Pool
    ttl_s: float = TENANT_TTL_S
    lookup_timeout_s: float = 2.0
    _cache: dict[Key, tuple[float, Tenant | None]] = field(default_factory=dict)
    _lookups: dict[Key, asyncio.Task[Tenant | None]] = field(default_factory=dict)

    async def by_number(self, number: str) -> Tenant | None:
        """The tenant that owns this number (None if nobody does). Raises `TenantLookupUnavailable`."""
        return await self._get(number)

    async def by_id(self, tenant_id: int) -> Tenant | None:
        """The tenant with this id (None if it was deleted). Raises `TenantLookupUnavailable`."""
        return await self._get(tenant_id)

    async def _get(self, key: Key) -> Tenant | None:
        hit = self._cache.get(key)
        if hit is not None:
            expires, tenant = hit
            if expires > time.monotonic():
                return tenant
            if tenant is not None:
                self._lookup(key)
                return tenant
        lookup = self._lookup(key)
        await wait_quietly(lookup, self.lookup_timeout_s)
        if lookup.done() and not lookup.cancelled() and lookup.exception() is None:
            return lookup.result()
        if hit is not None:
            return hit[1]  # unknown a moment ago, and Postgres can't say otherwise now
        reason = "no answer in time" if not lookup.done() else repr(lookup.exception())
        raise TenantLookupUnavailable(f"tenant {key!r}: {reason}")

    def _lookup(self, key: Key) -> asyncio.Task[Tenant | None]:
        """The lookup of `key` under way, or a new one: one per key however many requests wait for it."""
        running = self._lookups.get(key)
        if running is None:
            running = asyncio.create_task(self._load(key), name=f"tenant lookup {key!r}")
            self._lookups[key] = running
            running.add_done_callback(lambda task: self._done(key, task))
        return running

    async def _load(self, key: Key) -> Tenant | None:
        # the pool's own timeout bounds the wait for a connection; a query on a hung server goes on until it answers
        async with self.pool.connection(timeout=self.lookup_timeout_s) as conn:
            if isinstance(key, int):
                tenant = await tenant_repo.by_id(conn, key)
            else:
                tenant = await tenant_repo.by_whatsapp(conn, key)
        self._cache[key] = (time.monotonic() + self.ttl_s, tenant)
        return tenant

    def _done(self, key: Key, task: asyncio.Task[Tenant | None]) -> None:
        self._lookups.pop(key, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("looking up tenant %r failed: %s: %s", key, type(exc).__name__, exc)
