"""Prometheus metrics: what an operator watches, tenant-labelled where the cardinality allows (one per restaurant).

Two kinds of figures, kept apart on purpose:
- counters and histograms of what this process did (webhooks, turns, fallbacks, model calls, limits): every process
  keeps its own and serves them itself, the API on `GET /metrics`, each `comanda worker` process on its own port
  (`COMANDA_WORKER_METRICS_PORT` + its index). Prometheus sums them across targets; no shared directory
  (prometheus-client's multiprocess mode) to clean up after a SIGKILLed worker;
- gauges of shared state (queue depth and oldest age, dead letters, outbox lag, open handoffs, outbound messages by
  status) read from Redis and Postgres when the API is scraped: they are the same whichever process reads them, so
  only the API reports them (a worker reporting them too would only double the queries).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable
from functools import cache

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from redis.asyncio import Redis

from memory.db import Pool

log = logging.getLogger("comanda.metrics")

WEBHOOKS = Counter(
    "comanda_webhooks",
    "Inbound WhatsApp webhooks by outcome (accepted, duplicate, forged, malformed, unknown_number, unavailable, "
    "rate_limited, over_quota)",
    ["outcome", "tenant"],
)
TURNS = Counter("comanda_turns", "Conversation turns run, by the route the router chose", ["tenant", "route"])
TURN_SECONDS = Histogram(
    "comanda_turn_seconds",
    "Time a turn took in the graph (model, tools, checkpoint), by route",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
FALLBACKS = Counter(
    "comanda_fallback_replies", "Replies that were an apology or a fallback instead of an answer", ["tenant", "cause"]
)
MODEL_CALLS = Counter("comanda_model_calls", "Chat-model calls", ["provider", "tenant"])
MODEL_TOKENS = Counter("comanda_model_tokens", "Chat-model tokens", ["provider", "tenant", "direction"])
RATE_LIMITED = Counter(
    "comanda_rate_limited_messages", "Customer messages refused by the per-phone rate limit", ["tenant", "reply"]
)
OVER_QUOTA = Counter(
    "comanda_over_quota_messages", "Customer messages of a restaurant over its monthly quota", ["tenant"]
)

QUEUE_WAITING = Gauge("comanda_queue_conversations_waiting", "Conversations with messages waiting for a worker")
QUEUE_OLDEST = Gauge("comanda_queue_oldest_age_seconds", "Age of the oldest conversation waiting for a worker")
DEAD_LETTERS = Gauge("comanda_dead_letters", "Messages in the dead-letter stream (`comanda dlq`)")
OUTBOX_LAG = Gauge("comanda_outbox_lag_seconds", "Age of the oldest POS event not yet published", ["tenant"])
OUTBOX_PENDING = Gauge("comanda_outbox_unpublished", "POS events not yet published (parked ones included)", ["tenant"])
HANDOFFS_OPEN = Gauge("comanda_handoffs_open", "Conversations waiting for or held by a person", ["tenant"])
OUTBOUND = Gauge(
    "comanda_outbound_messages_24h",
    "Messages sent to customers in the last 24 h, by delivery status",
    ["tenant", "status"],
)
SCRAPE_ERRORS = Counter("comanda_metrics_refresh_errors", "Shared-state gauges that couldn't be read", ["source"])

# a scrape must answer even when Postgres or Redis hang: their gauges keep their last value
REFRESH_TIMEOUT_S = 2.0


def record_turn(
    tenant: str, provider: str, route: str | None, elapsed_ms: float, model_calls: Iterable[object]
) -> None:
    """Count a turn, its latency and its model calls (`ModelCallTrace`s: `tokens_in`, `tokens_out`)."""
    label = route or "none"
    TURNS.labels(tenant, label).inc()
    TURN_SECONDS.labels(label).observe(elapsed_ms / 1000)
    for call in model_calls:
        MODEL_CALLS.labels(provider, tenant).inc()
        MODEL_TOKENS.labels(provider, tenant, "in").inc(getattr(call, "tokens_in", 0))
        MODEL_TOKENS.labels(provider, tenant, "out").inc(getattr(call, "tokens_out", 0))


def fallback_causes(replies: Iterable[str], tool_results: Iterable[str]) -> list[str]:
    """Why some of a turn's replies were fallbacks: `tool_error` when a tool failed on our side, else the prompt
    key of the fallback sentence sent (`not_understood`, `too_long`, ...)."""
    causes = []
    for result in tool_results:
        with contextlib.suppress(ValueError):
            data = json.loads(result)
            if isinstance(data, dict) and data.get("kind") == "error" and data.get("error") == "internal":
                causes.append("tool_error")
                break
    known = _fallback_sentences()
    causes += [known[r.strip()] for r in replies if r.strip() in known]
    return causes


@cache
def _fallback_sentences() -> dict[str, str]:
    from prompts import load_prompt_set  # data with a loader; read once per process

    prompts = load_prompt_set()
    sentences: dict[str, str] = {}
    for key in prompts.reply_keys:
        if key.startswith("fallback.") and not prompts.reply_fields(key):
            for locale in prompts.locales:
                sentences[prompts.reply(key, locale).strip()] = key.removeprefix("fallback.")
    return sentences


async def refresh_shared(redis: Redis, pool: Pool, prefix: str = "comanda") -> None:
    """Read the shared-state gauges from Redis and Postgres (bounded: a scrape never hangs on them)."""
    for source, refresh in (("redis", _refresh_queue(redis, prefix)), ("postgres", _refresh_postgres(pool))):
        try:
            await asyncio.wait_for(refresh, REFRESH_TIMEOUT_S)
        except Exception as exc:  # a gauge left stale is better than a scrape that fails
            SCRAPE_ERRORS.labels(source).inc()
            log.warning("metrics: couldn't read %s: %s: %s", source, type(exc).__name__, exc)


async def _refresh_queue(redis: Redis, prefix: str) -> None:
    ready, dlq = f"{prefix}:ready", f"{prefix}:dlq"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xlen(ready)
        pipe.xrange(ready, count=1)
        pipe.xlen(dlq)
        pipe.time()
        waiting, first, dead, now = await pipe.execute()
    QUEUE_WAITING.set(waiting)
    DEAD_LETTERS.set(dead)
    now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
    if first:
        entry_id = first[0][0]
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        QUEUE_OLDEST.set(max(0.0, (now_ms - int(entry_id.split("-")[0])) / 1000))
    else:
        QUEUE_OLDEST.set(0)


_SHARED_SQL = {
    "outbox": """
        SELECT t.slug, count(o.id) AS n,
               coalesce(extract(epoch FROM now() - min(o.created_at) FILTER (WHERE o.stuck_at IS NULL)), 0) AS lag
        FROM tenants t LEFT JOIN outbox o ON o.tenant_id = t.id AND o.published_at IS NULL
        GROUP BY t.slug""",
    "handoffs": """
        SELECT t.slug, count(h.id) AS n
        FROM tenants t LEFT JOIN handoff_tickets h ON h.tenant_id = t.id AND h.status = 'open'
        GROUP BY t.slug""",
    "outbound": """
        SELECT t.slug, m.status, count(*) AS n
        FROM outbound_messages m JOIN tenants t ON t.id = m.tenant_id
        WHERE m.created_at > now() - interval '24 hours'
        GROUP BY t.slug, m.status""",
}


async def _refresh_postgres(pool: Pool) -> None:
    async with pool.connection() as conn:
        outbox = await (await conn.execute(_SHARED_SQL["outbox"])).fetchall()
        handoffs = await (await conn.execute(_SHARED_SQL["handoffs"])).fetchall()
        sent = await (await conn.execute(_SHARED_SQL["outbound"])).fetchall()
    for row in outbox:
        OUTBOX_PENDING.labels(row["slug"]).set(row["n"])
        OUTBOX_LAG.labels(row["slug"]).set(float(row["lag"]))
    for row in handoffs:
        HANDOFFS_OPEN.labels(row["slug"]).set(row["n"])
    OUTBOUND.clear()  # a status with no message in the window is gone, not frozen at its last count
    for row in sent:
        OUTBOUND.labels(row["slug"], row["status"]).set(row["n"])


def metrics_router(redis: Redis, pool: Pool, prefix: str = "comanda") -> APIRouter:
    """`GET /metrics` in Prometheus's text format."""
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", response_class=Response, summary="Prometheus metrics")
    async def metrics(request: Request) -> Response:
        started = time.perf_counter()
        await refresh_shared(redis, pool, prefix)
        log.debug("metrics refreshed in %.1f ms", (time.perf_counter() - started) * 1000)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def serve_worker_metrics(port: int, host: str) -> None:
    """This worker process's counters on `http://host:port/metrics` (a thread of prometheus-client's own)."""
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        # a busy port must not stop a worker from answering customers: it runs, unobserved, and says so
        log.error("worker metrics can't listen on %s:%d (%s): this worker has no /metrics", host, port, exc)
