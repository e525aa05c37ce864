"""The fault harness's settings, its report, and the names it shares with the service."""

from __future__ import annotations

import logging
import re

from pydantic import BaseModel
from rich.console import Console

console = Console()
log = logging.getLogger("comanda.faults")

POINTS = ("before_turn", "after_checkpoint", "after_send")  # the fault points server/turns.py passes through
NUDGE = "?"  # what a customer writes when no answer comes; the offline model shrugs it off at every step
TWILIO_TIMEOUT_S = 15.0  # Twilio gives up on a webhook after this long (and retries)
PREFIX = "comanda"
READY = f"{PREFIX}:ready"
GROUP = "workers"
TURN_KEY = re.compile(r"^turn:([^:]+):(\d+)$")
ORDER_NUMBER = re.compile(r"#(\d+)")


class FaultConfig(BaseModel):
    """What to do to the service, and for how long."""

    customers: int = 24  # talking at once; each finished customer is replaced by a new one until the load stops
    # worker processes, armed with the fault points in turn; small ones, so that one death strands few conversations
    workers: int = 8
    slots: int = 1
    fault_s: float = 110.0  # faults go on this long; the calm that follows is reclaim + 10 s
    kills: int = 100  # worker SIGKILLs at least (deaths at fault points count)
    point_rate: float = 0.05  # probability a worker dies when it passes its armed fault point
    replies_between_kills: int = 5  # the harness kills again only once the service answered this many messages
    reclaim_ms: int = 3000
    lock_ttl_ms: int = 3000  # as in production, equal to the reclaim time
    coalesce_ms: int = 200
    max_attempts: int | None = None  # the queue's dead-lettering threshold; None: the production default
    valkey_restart: bool = True
    pg_restart: bool = True
    pg_outage_s: float = 40.0  # Postgres frozen (SIGSTOP) this long; 0: no outage
    deliveries: int = 3  # each webhook posted this many times at once
    hostile_per_s: float = 3.0
    seed: int | None = None
    log_dir: str | None = None  # worker and supervisor logs, the fault log and the report's details are kept here

    @property
    def reclaim_s(self) -> float:
        return self.reclaim_ms / 1000

    @property
    def reply_timeout_s(self) -> float:
        """A customer gives up on a message after this long (and its conversation counts as stuck)."""
        return max(30.0, self.pg_outage_s + self.delay_bound_s + 10)

    @property
    def delay_bound_s(self) -> float:
        """Required: every reply within the reclaim time + 10 s of the end of the last fault that hit it."""
        return self.reclaim_s + 10


class FaultReport(BaseModel):
    """The figures, and enough about each failure to reproduce it."""

    config: FaultConfig
    kills: dict[str, int]  # by cause: harness (random, while holding conversations), or the fault point
    worker_exits: int  # workers that exited without being killed (start-up during an outage)
    valkey_restarts: int
    pg_restarts: int
    pg_outage_s: float
    deliveries: int  # webhook POSTs of customer messages (each message `config.deliveries`× at once)
    hostile: int
    messages: int  # customer messages accepted by the webhook (script lines and "?" nudges)
    nudges: int
    replies: int  # outbound reply parts
    scripts_finished: int
    orders: int
    lost: int
    duplicated: int
    stuck: int
    wrong_orders: int  # finished scripts without exactly one order
    hostile_failures: int  # forged/malformed requests not refused with a 4xx, or that changed something
    max_reply_s: float  # from the message's first delivery
    max_reply_after_fault_s: float  # from the end of the last fault that hit the message
    max_ack_ms: float
    elapsed_s: float
    phases: dict[str, float]  # seconds spent starting workers, in faults, in the calm, draining, settling
    details: dict[str, list[str]]

    @property
    def faults(self) -> int:
        return sum(self.kills.values()) + self.valkey_restarts + self.pg_restarts + (1 if self.pg_outage_s else 0)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.stuck == 0
            and self.wrong_orders == 0
            and self.hostile_failures == 0
            and sum(self.kills.values()) >= self.config.kills
            and self.max_reply_after_fault_s <= self.config.delay_bound_s
        )
