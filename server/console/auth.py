"""Staff accounts, sessions, CSRF and login rate limits of the console.

Passwords are argon2id hashes (argon2-cffi). A session is a random token in an HttpOnly cookie; Redis keeps only its
SHA-256 (a leaked Redis dump opens no console) with the account, the restaurant and the session's CSRF token, and
forgets it after `idle_s` without a request. Login attempts are counted per account and per IP on Redis (`limits`),
so every server process sees the same counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from memory.db import Pool
from memory.repos import agents as agent_repo
from memory.repos import tenants as tenant_repo
from memory.repos.agents import Agent, Role

SETUP_LINK_TTL = timedelta(hours=72)
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# verifying against this when the account doesn't exist keeps "no such e-mail" as slow as "wrong password"
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def token_hash(token: str) -> str:
    """What we store of a secret token (setup links, sessions): its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens (as bytes: compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode(), b.encode())


class SetupLink(BaseModel):
    """A new account and the one-time link its owner opens to choose a password."""

    model_config = ConfigDict(frozen=True)

    agent: Agent
    url: str
    expires_at: datetime


class UnknownTenant(LookupError):
    """No restaurant with this slug."""


async def add_agent(
    pool: Pool, *, tenant_slug: str, email: str, name: str, role: Role, public_base_url: str
) -> SetupLink:
    """Create a staff account and its one-time setup link (72 hours). Raises UnknownTenant or EmailTaken."""
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + SETUP_LINK_TTL
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, tenant_slug)
        if tenant is None:
            raise UnknownTenant(tenant_slug)
        agent = await agent_repo.insert(
            conn,
            tenant_id=tenant.id,
            email=email.strip().lower(),
            name=name.strip() or email.split("@")[0],
            role=role,
            setup_token_hash=token_hash(token),
            setup_expires_at=expires,
        )
    return SetupLink(agent=agent, url=f"{public_base_url.rstrip('/')}/console/setup/{token}", expires_at=expires)


async def setup_account(pool: Pool, token: str, password: str) -> Agent | None:
    """Spend a setup link on a password; None if the link is unknown, spent or expired."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    async with pool.connection() as conn:
        return await agent_repo.set_password(conn, token_hash(token), _hasher.hash(password))


async def pending_setup(pool: Pool, token: str) -> Agent | None:
    """The account a setup link would open (to greet its owner by name), if the link still works."""
    async with pool.connection() as conn:
        return await agent_repo.by_setup_token(conn, token_hash(token))


async def check_password(pool: Pool, tenant_slug: str, email: str, password: str) -> Agent | None:
    """The account if this password is its own; None otherwise (unknown restaurant, e-mail or password alike)."""
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, tenant_slug.strip().lower())
        found = await agent_repo.credentials(conn, tenant.id, email.strip()) if tenant else None
    stored = found.password_hash if found else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if found is None or stored is None:
        return None
    async with pool.connection() as conn:
        if _hasher.check_needs_rehash(stored):
            await agent_repo.rehash(conn, found.agent.tenant_id, found.agent.id, _hasher.hash(password))
        await agent_repo.touch_login(conn, found.agent.tenant_id, found.agent.id)
    return found.agent


class Session(BaseModel):
    """Who is logged in, at which restaurant, and the token their forms must carry."""

    model_config = ConfigDict(frozen=True)

    agent_id: int
    tenant_id: int
    role: Role
    name: str
    csrf: str


@dataclass
class Sessions:
    """Console sessions on Redis, forgotten after `idle_s` without a request."""

    redis: Redis
    idle_s: int = 8 * 3600
    prefix: str = "comanda:console:session"

    def _key(self, token: str) -> str:
        return f"{self.prefix}:{token_hash(token)}"

    async def start(self, agent: Agent) -> tuple[str, Session]:
        """A new session for a logged-in agent; returns the cookie's token and the session."""
        token = secrets.token_urlsafe(32)
        session = Session(
            agent_id=agent.id, tenant_id=agent.tenant_id, role=agent.role, name=agent.name, csrf=secrets.token_hex(16)
        )
        await self.redis.set(self._key(token), session.model_dump_json(), ex=self.idle_s)
        return token, session

    async def get(self, token: str | None) -> Session | None:
        """The live session behind a cookie, its expiry pushed back (an agent at work stays logged in)."""
        if not token:
            return None
        key = self._key(token)
        raw = await self.redis.getex(key, ex=self.idle_s)
        return Session.model_validate(json.loads(raw)) if raw else None

    async def end(self, token: str | None) -> None:
        """Log out."""
        if token:
            await self.redis.delete(self._key(token))


@dataclass
class LoginLimiter:
    """At most 5 failed logins a minute per account and 20 an hour per IP (a moving window, on Redis)."""

    storage_uri: str
    per_account = RateLimitItemPerMinute(5)
    per_ip = RateLimitItemPerHour(20)

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(RedisStorage(self.storage_uri, implementation="redispy"))

    async def blocked(self, tenant_slug: str, email: str, ip: str) -> bool:
        """Whether this account or this IP has used up its failed attempts."""
        account = f"{tenant_slug.strip().lower()}:{email.strip().lower()}"
        ok_account = await self._limiter.test(self.per_account, "console-login-account", account)
        ok_ip = await self._limiter.test(self.per_ip, "console-login-ip", ip)
        return not (ok_account and ok_ip)

    async def failed(self, tenant_slug: str, email: str, ip: str) -> None:
        """Count a failed attempt against both."""
        account = f"{tenant_slug.strip().lower()}:{email.strip().lower()}"
        await self._limiter.hit(self.per_account, "console-login-account", account)
        await self._limiter.hit(self.per_ip, "console-login-ip", ip)


def limits_uri(redis: Redis) -> str:
    """The `limits` storage URI of the Redis our client talks to."""
    kw = redis.connection_pool.connection_kwargs
    auth = f":{kw['password']}@" if kw.get("password") else ""
    return f"async+redis://{auth}{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"
