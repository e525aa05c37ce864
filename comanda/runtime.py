"""Wiring: start the embedded parts when no URL is given, migrate, seed the demo, open pools."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.exceptions import AuthenticationError, RedisError

from comanda.embedded import EmbeddedServers
from comanda.settings import Settings
from memory.db import Pool, connect_kwargs, describe_connect_error, open_pool
from memory.embeddings import default_embedder
from memory.migrate import DatabaseUnreachable, migrate
from memory.repos import tenants as tenant_repo
from tools.menu.hours import ALL_DAY, DAYS
from tools.menu.importer import ImportReport, import_menu
from tools.menu.menu_file import parse_json

log = logging.getLogger(__name__)

DEMO_MENU = Path(__file__).parent / "fixtures" / "demo-restaurant.json"


class ServiceUnreachable(Exception):
    """A server the settings name doesn't answer at start-up; one line naming it and why, never a password."""


@dataclass
class Infra:
    """Where Postgres and Redis are, and the embedded servers we started to get them (if any)."""

    database_url: str
    redis_url: str | None
    embedded: EmbeddedServers | None = None
    notes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the embedded servers we started."""
        if self.embedded is not None:
            self.embedded.stop()


def start_infra(settings: Settings, *, need_redis: bool = True) -> Infra:
    """Use DATABASE_URL / REDIS_URL when set; otherwise start the embedded servers under the data dir."""
    embedded = EmbeddedServers(settings.data_dir)
    db_url = settings.database_url
    notes = []
    if db_url is None:
        db_url = embedded.start_postgres()
        notes.append(f"Postgres 18 + pgvector (embedded, data in {settings.data_dir / 'pg'})")
    redis_url = settings.redis_url
    if redis_url is None and need_redis:
        redis_url = embedded.start_redis()
        notes.append(f"Valkey (embedded, {redis_url}, data in {settings.data_dir / 'valkey'})")
    uses_embedded = settings.database_url is None or (need_redis and settings.redis_url is None)
    return Infra(db_url, redis_url, embedded if uses_embedded else None, notes)


async def prepare_database(database_url: str, *, seed_demo: bool) -> ImportReport | None:
    """Apply migrations and, on an empty database, import the demo restaurant."""
    await migrate(database_url)
    if not seed_demo:
        return None
    pool = await open_pool(database_url, max_size=2, name="seed")
    try:
        async with pool.connection() as conn:
            if await tenant_repo.list_all(conn):
                return None
        menu = parse_json(DEMO_MENU.read_text())
        if menu.restaurant is not None:
            # a newcomer tries `make run` at any hour: the demo takes orders around the clock (the fixture keeps a
            # real week, closed on Mondays, for the tests and evals of closed hours)
            open_always = dict.fromkeys(DAYS, ALL_DAY)
            menu = menu.model_copy(update={"restaurant": menu.restaurant.model_copy(update={"hours": open_always})})
        return await import_menu(pool, "demo", menu, default_embedder())
    finally:
        await pool.close()


@dataclass
class Connections:
    """Open pools for the app and the worker."""

    pool: Pool
    redis: Redis

    async def close(self) -> None:
        """Close both pools."""
        await self.pool.close()
        await self.redis.aclose()


async def open_connections(settings: Settings, infra: Infra) -> Connections:
    """Open the Postgres pool and the Redis client."""
    assert infra.redis_url is not None
    pool = await open_pool(infra.database_url, max_size=settings.db_pool_size)
    return Connections(pool, redis_client(infra.redis_url))


def redis_client(url: str) -> Redis:
    """The Redis client our processes use."""
    # a worker runs hundreds of conversations at once: wait for a free connection instead of failing
    redis_pool = BlockingConnectionPool.from_url(
        url, max_connections=64, timeout=10, socket_timeout=10, socket_connect_timeout=2
    )
    return Redis(connection_pool=redis_pool)


REDIS_CHECK_TIMEOUT_S = 3.0


async def check_redis(url: str) -> None:
    """Raise `ServiceUnreachable` unless Redis at `url` answers a PING within a few seconds."""
    client = Redis.from_url(
        url,
        socket_connect_timeout=REDIS_CHECK_TIMEOUT_S,
        socket_timeout=REDIS_CHECK_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),  # one try: this is a question, not a workload
    )
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise ServiceUnreachable(
            f"cannot reach Redis at {_redis_where(url)} (REDIS_URL): {_redis_reason(exc)}"
        ) from None
    finally:
        await client.aclose()


def _redis_where(url: str) -> str:
    parts = parse_url(url)
    if "path" in parts:
        return str(parts["path"])
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 6379)}"


def _redis_reason(exc: BaseException) -> str:
    # redis-py 8 words a failed connect as "network:ConnectionError": the socket's own error is in the chain
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, AuthenticationError) for e in chain) or "noauth" in text or "wrongpass" in text:
        return "it refused our credentials (check the user and password in REDIS_URL)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "unknown host"
    if any(isinstance(e, TimeoutError) for e in chain) or "timeout" in text or "timed out" in text:
        return f"no answer within {REDIS_CHECK_TIMEOUT_S:g} s"
    return type(chain[-1]).__name__


async def check_postgres(url: str) -> None:
    """Raise `DatabaseUnreachable` unless Postgres at `url` takes a connection and answers."""
    try:
        async with await psycopg.AsyncConnection.connect(url, **connect_kwargs(url)) as conn:
            await conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise DatabaseUnreachable(describe_connect_error(url, exc)) from None


async def check_services(database_url: str, redis_url: str) -> None:
    """Both servers a worker needs answer (Redis first, as `comanda serve` asks); else the one-line error."""
    await check_redis(redis_url)
    await check_postgres(database_url)
