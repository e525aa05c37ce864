"""Staff accounts of a restaurant (the console's agents and managers); passwords arrive here already hashed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn

Role = Literal["agent", "manager"]


class Agent(BaseModel):
    """A staff account as stored (without its secrets)."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    email: str
    name: str
    role: Role
    active: bool  # a password was chosen: the account can log in
    created_at: datetime
    last_login_at: datetime | None


class Credentials(BaseModel):
    """What login checks: the account and its password hash (None until the setup link is used)."""

    model_config = ConfigDict(frozen=True)

    agent: Agent
    password_hash: str | None


_COLUMNS = "id, tenant_id, email, name, role, password_hash IS NOT NULL AS active, created_at, last_login_at"


class EmailTaken(ValueError):
    """The restaurant already has an account with this e-mail."""


async def insert(
    conn: Conn,
    *,
    tenant_id: int,
    email: str,
    name: str,
    role: Role,
    setup_token_hash: str,
    setup_expires_at: datetime,
) -> Agent:
    """Create an account waiting for its owner to choose a password through the setup link."""
    cur = await conn.execute(
        f"""INSERT INTO agents (tenant_id, email, name, role, password_hash, setup_token_hash, setup_expires_at)
            VALUES (%s, %s, %s, %s, NULL, %s, %s)
            ON CONFLICT (tenant_id, email) DO NOTHING
            RETURNING {_COLUMNS}""",
        (tenant_id, email, name, role, setup_token_hash, setup_expires_at),
    )
    row = await cur.fetchone()
    if row is None:
        raise EmailTaken(email)
    return Agent.model_validate(row)


async def renew_setup(conn: Conn, tenant_id: int, agent_id: int, setup_token_hash: str, expires_at: datetime) -> bool:
    """A new setup link for an account (a lost link, a forgotten password); the old link stops working."""
    cur = await conn.execute(
        "UPDATE agents SET setup_token_hash = %s, setup_expires_at = %s WHERE tenant_id = %s AND id = %s",
        (setup_token_hash, expires_at, tenant_id, agent_id),
    )
    return cur.rowcount > 0


async def by_setup_token(conn: Conn, setup_token_hash: str) -> Agent | None:
    """The account a setup link (by the hash of its token) opens, while it has not expired."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM agents WHERE setup_token_hash = %s AND setup_expires_at > now()",
        (setup_token_hash,),
    )
    row = await cur.fetchone()
    return Agent.model_validate(row) if row else None


async def set_password(conn: Conn, setup_token_hash: str, password_hash: str) -> Agent | None:
    """Use a setup link: store the password and spend the link (it works once); None if it is spent or expired."""
    cur = await conn.execute(
        f"""UPDATE agents SET password_hash = %s, setup_token_hash = NULL, setup_expires_at = NULL
            WHERE setup_token_hash = %s AND setup_expires_at > now()
            RETURNING {_COLUMNS}""",
        (password_hash, setup_token_hash),
    )
    row = await cur.fetchone()
    return Agent.model_validate(row) if row else None


async def credentials(conn: Conn, tenant_id: int, email: str) -> Credentials | None:
    """The account with this e-mail at this restaurant, with its password hash."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS}, password_hash FROM agents WHERE tenant_id = %s AND lower(email) = lower(%s)",
        (tenant_id, email),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return Credentials(agent=Agent.model_validate(row), password_hash=row["password_hash"])


async def rehash(conn: Conn, tenant_id: int, agent_id: int, password_hash: str) -> None:
    """Store a stronger hash of the same password (argon2's parameters grew since it was made)."""
    await conn.execute(
        "UPDATE agents SET password_hash = %s WHERE tenant_id = %s AND id = %s", (password_hash, tenant_id, agent_id)
    )


async def touch_login(conn: Conn, tenant_id: int, agent_id: int) -> None:
    """Record a successful login."""
    await conn.execute(
        "UPDATE agents SET last_login_at = now() WHERE tenant_id = %s AND id = %s", (tenant_id, agent_id)
    )


async def by_id(conn: Conn, tenant_id: int, agent_id: int) -> Agent | None:
    """One account of this restaurant."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM agents WHERE tenant_id = %s AND id = %s", (tenant_id, agent_id))
    row = await cur.fetchone()
    return Agent.model_validate(row) if row else None


async def list_for_tenant(conn: Conn, tenant_id: int) -> list[Agent]:
    """The restaurant's staff, by name."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM agents WHERE tenant_id = %s ORDER BY name, id", (tenant_id,))
    return [Agent.model_validate(r) for r in await cur.fetchall()]
