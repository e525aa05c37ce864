"""Applies the plain-SQL migrations in `memory/migrations/`, in order, once, under an advisory lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.errors import InsufficientPrivilege

from memory.db import connect_kwargs, describe_connect_error

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# any constant works; it only has to be the same for every process applying our migrations
_LOCK_KEY = 0x636F6D616E6461


class DatabaseSetupError(RuntimeError):
    """The database can't be used as it is; the message is one line saying what to do, never with a secret."""


class MissingExtensionError(DatabaseSetupError):
    """The database cannot provide an extension the schema needs."""


class DatabaseUnreachable(DatabaseSetupError):
    """No connection to the database (refused, unknown host, timed out, wrong password)."""


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
    try:
        connection = await psycopg.AsyncConnection.connect(url, autocommit=True, **connect_kwargs(url))
    except psycopg.Error as exc:
        raise DatabaseUnreachable(describe_connect_error(url, exc)) from None
    async with connection as conn:
        # a session-level lock: a second process waits here, then finds everything applied;
        # taken before CREATE EXTENSION too, whose IF NOT EXISTS races between two sessions
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            await _require_vector(conn)
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
                try:
                    async with conn.transaction():
                        await conn.execute(sql.SQL(m.sql))  # type: ignore[arg-type,unused-ignore]
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                            (m.version, m.checksum),
                        )
                except InsufficientPrivilege as exc:
                    raise DatabaseSetupError(
                        f"the role {conn.info.user} lacks a privilege migration {m.version} needs "
                        f"({_first_line(exc)}): grant it, or run `comanda migrate` as the database's owner"
                    ) from None
                applied_now.append(m.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


async def _require_vector(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    cur = await conn.execute("SELECT installed_version FROM pg_available_extensions WHERE name = 'vector'")
    row = await cur.fetchone()
    if row is None:
        raise MissingExtensionError(
            "this Postgres has no `vector` extension (pgvector): install pgvector on the server "
            "(RDS, Aurora and Supabase ship it) or unset DATABASE_URL to use the embedded Postgres"
        )
    if row[0] is not None:
        return
    try:
        # here rather than in the first migration, so that a role lacking the right gets this message
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except InsufficientPrivilege:
        raise MissingExtensionError(
            f"the role {conn.info.user} may not create the `vector` extension (pgvector) in database "
            f"{conn.info.dbname}: a superuser (rds_superuser on RDS/Aurora) must run `CREATE EXTENSION vector;` "
            "in it once, then start again"
        ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
