"""Postgres connection pools shared by repositories and the LangGraph checkpointer."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

Conn = AsyncConnection[DictRow]
Pool = AsyncConnectionPool[Conn]


async def open_pool(url: str, *, max_size: int = 10, name: str = "comanda") -> Pool:
    """An open pool of autocommit, dict-row connections (what `AsyncPostgresSaver` requires too)."""
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
    if "pgbouncer" in url or "prepare_threshold=none" in url.lower():
        # transaction-pooling PgBouncer breaks server-side prepared statements
        kwargs["prepare_threshold"] = None
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs=kwargs,
        connection_class=AsyncConnection[DictRow],
        check=AsyncConnectionPool.check_connection,
        name=name,
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool
