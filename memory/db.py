"""Postgres connection pools shared by repositories and the LangGraph checkpointer."""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

Conn = AsyncConnection[DictRow]
Pool = AsyncConnectionPool[Conn]

# Postgres unreachable (restarted, crashed, pool exhausted): a turn hitting one must fail and be retried by the queue,
# never be answered with an apology as if the request itself were wrong
UNAVAILABLE: tuple[type[Exception], ...] = (psycopg.OperationalError, PoolTimeout)

# libpq waits for a server that accepts the TCP connection but never answers (frozen, or a dropped SYN-ACK) for as
# long as the OS lets it; bound it, unless the URL says otherwise
CONNECT_TIMEOUT_S = 10


def connect_kwargs(url: str) -> dict[str, Any]:
    """Connection options we add to a URL: a connect timeout unless it sets one."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.Error:
        return {}  # connecting will say what is wrong
    return {} if "connect_timeout" in given else {"connect_timeout": CONNECT_TIMEOUT_S}


def describe_connect_error(url: str, exc: BaseException) -> str:
    """One line saying which server couldn't be reached and why, without the user's password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "DATABASE_URL can't be read as a PostgreSQL URL or connection string"
    where = f"{info.get('host') or info.get('hostaddr') or 'localhost'}:{info.get('port') or 5432}"
    where += f"/{info.get('dbname') or info.get('user') or ''}"
    lines = str(exc).strip().splitlines()
    # libpq: 'connection failed: connection to server at "h", port 5432 failed: <why>'
    reason = lines[0].rsplit("failed: ", 1)[-1] if lines else type(exc).__name__
    reason = re.sub(r"^(FATAL|ERROR):\s*", "", reason).strip()
    if password := info.get("password"):
        reason = reason.replace(str(password), "***")
    return f"cannot connect to Postgres at {where}: {reason}"


async def open_pool(url: str, *, max_size: int = 10, name: str = "comanda") -> Pool:
    """An open pool of autocommit, dict-row connections (what `AsyncPostgresSaver` requires too)."""
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row, **connect_kwargs(url)}
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
