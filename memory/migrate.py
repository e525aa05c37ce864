"""Applies the plain-SQL migrations in `memory/migrations/`, in order, once, under an advisory lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# any constant works; it only has to be the same for every process applying our migrations
_LOCK_KEY = 0x636F6D616E6461


class MissingExtensionError(RuntimeError):
    """The database cannot provide an extension the schema needs."""


@dataclass(frozen=True)
class Migration:
    """One SQL file: its version (the file name) and content."""

    version: str
    sql: str

    @property
    def checksum(self) -> str:
        """Hash of the content, recorded so an edited, already-applied migration is noticed."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files, sorted by name."""
    return [Migration(p.name, p.read_text()) for p in sorted(directory.glob("*.sql"))]


async def migrate(url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; returns the versions applied now. Safe to run twice and concurrently."""
    applied_now: list[str] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await _require_vector(conn)
        # a session-level lock: a second process waits here, then finds everything applied
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version text PRIMARY KEY,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            cur = await conn.execute("SELECT version, checksum FROM schema_migrations")
            done = {row[0]: row[1] for row in await cur.fetchall()}
            for m in load_migrations(directory):
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise RuntimeError(
                            f"migration {m.version} was changed after it was applied; add a new file instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(sql.SQL(m.sql))  # type: ignore[arg-type,unused-ignore]
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                        (m.version, m.checksum),
                    )
                applied_now.append(m.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


async def _require_vector(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    if await cur.fetchone() is None:
        raise MissingExtensionError(
            "this Postgres has no `vector` extension (pgvector): install pgvector on the server "
            "(RDS, Aurora and Supabase ship it) or unset DATABASE_URL to use the embedded Postgres"
        )
