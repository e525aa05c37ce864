"""Fault harness: customers order through signed webhooks while the service is hurt, then everything is checked.

`comanda bench faults` starts the benchmarks' throw-away stack (embedded Postgres and Valkey, `comanda serve
--no-worker`) with short queue timings, and worker processes under supervisors of ours that fork a fresh worker
whenever one dies. While simulated customers work through the order script, it

- SIGKILLs workers that hold conversations, and arms each supervisor's workers with one of the turn's fault points
  (`server/faults.py`: before the turn, between checkpoint and send, after send), so workers also die there;
- restarts Valkey (its append-only file keeps the queue), restarts Postgres, and freezes Postgres for 40 s;
- delivers every webhook 3× at once, and mixes in forged and malformed requests.

A customer who hears nothing for half the reclaim time writes "?" (so the queue holds the old message and a new
one when the dead worker's turn is reclaimed). Afterwards it checks, from Postgres and Redis: every message got a
reply (and the replies stored in the conversation's checkpoints all went out), no reply went out twice, every
finished script has exactly one order and the customer was told its number, no conversation is left locked,
pending or stuck, forged requests got 4xx and changed nothing; and how long each message waited for its reply
counted from the end of the last fault that hit it.
"""

from comanda.fault_harness.config import POINTS, FaultConfig, FaultReport
from comanda.fault_harness.orchestrate import run_faults
from comanda.fault_harness.report import print_report

__all__ = ["POINTS", "FaultConfig", "FaultReport", "print_report", "run_faults"]
