"""Fail points for the fault harness: a worker that kills itself at a named point of a turn.

Off unless `COMANDA_FAULT_KILL_AT` names points (comma-separated); each time a named point is reached the process
SIGKILLs itself with probability `COMANDA_FAULT_KILL_RATE` (default 1). Only `comanda bench faults` and its test set
them: a real death at an exact point is the only honest way to prove a turn survives dying there.
"""

from __future__ import annotations

import os
import random
import signal
from typing import Literal

FaultPoint = Literal["before_turn", "after_checkpoint", "after_send"]

_POINTS = frozenset(p.strip() for p in os.environ.get("COMANDA_FAULT_KILL_AT", "").split(",") if p.strip())
_RATE = float(os.environ.get("COMANDA_FAULT_KILL_RATE", "1") or 1)


def fault_point(name: FaultPoint) -> None:
    """Die here, at once and without cleaning up, when the harness asked for it."""
    if name in _POINTS and random.random() < _RATE:
        os.kill(os.getpid(), signal.SIGKILL)
