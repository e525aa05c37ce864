"""Postgres connection pools shared by repositories and the LangGraph checkpointer."""

from __future__ import annotations

import time
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
        check=_check_if_idle,
        reset=_stamp_return,
        name=name,
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool


# A connection that was in use a moment ago is alive: checking it costs a round trip on every checkout (ten a
# turn). Check only connections that sat idle long enough for a server restart or a firewall to have cut them.
_IDLE_CHECK_S = 5.0


async def _stamp_return(conn: Conn) -> None:
    conn._comanda_returned = time.monotonic()  # type: ignore[attr-defined]


async def _check_if_idle(conn: Conn) -> None:
    returned = getattr(conn, "_comanda_returned", None)
    if returned is None or time.monotonic() - returned > _IDLE_CHECK_S:
        await AsyncConnectionPool.check_connection(conn)
