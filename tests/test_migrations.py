"""Migrations: applied once, in order, safe to run twice and from two processes at once."""

from __future__ import annotations

import subprocess
import sys

import psycopg
from conftest import create_database

from memory.migrate import load_migrations, migrate

EXPECTED_TABLES = {
    "tenants",
    "menu_items",
    "customers",
    "addresses",
    "orders",
    "order_items",
    "outbox",
    "payments",
    "handoff_tickets",
    "handoff_messages",
    "agents",
    "memories",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def _recorded(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


async def test_migrate_twice_applies_once(pg_base_url: str) -> None:
    url = create_database(pg_base_url)
    first = await migrate(url)
    second = await migrate(url)
    assert first == [m.version for m in load_migrations()]
    assert second == []
    assert EXPECTED_TABLES <= _tables(url)
    assert _recorded(url) == first


def test_two_processes_migrate_at_once(pg_base_url: str) -> None:
    url = create_database(pg_base_url)
    code = "import asyncio, sys; from memory.migrate import migrate; print(len(asyncio.run(migrate(sys.argv[1]))))"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    applied = sorted(int(out.strip()) for out, _ in results)
    # exactly one process applied everything; the other waited on the lock and found nothing to do
    assert applied == [0, len(load_migrations())]
    assert _recorded(url) == [m.version for m in load_migrations()]


async def test_an_edited_applied_migration_is_refused(pg_base_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = create_database(pg_base_url)
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (id int);")
    await migrate(url, tmp_path)
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (id bigint);")
    try:
        await migrate(url, tmp_path)
    except RuntimeError as exc:
        assert "0001_a.sql was changed" in str(exc)
    else:
        raise AssertionError("an edited migration was accepted")


async def test_a_failing_migration_leaves_nothing_behind(pg_base_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = create_database(pg_base_url)
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    try:
        await migrate(url, tmp_path)
    except psycopg.Error:
        pass
    else:
        raise AssertionError("a broken migration was applied")
    assert "half" not in _tables(url)
    assert _recorded(url) == ["0001_ok.sql"]
