"""CPU seconds spent by each part of a benchmark's stack, so a figure can be read apart from the machine's load.

Throughput measured on a shared 2-core machine says as much about the neighbours as about us; the CPU each
process spent per turn does not (much). A process's CPU is its own plus its children's: the live ones read
directly, the ones that already exited through their parent's `children_*` times (Postgres backends come and go).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import psutil


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process, its live descendants and its reaped children; 0 if it is gone."""
    try:
        root = psutil.Process(pid)
        t = root.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        descendants = root.children(recursive=True)
    except psutil.Error:
        return 0.0
    for child in descendants:
        try:
            c = child.cpu_times()
        except psutil.Error:
            continue  # exited between listing and reading: its parent's children_* times will carry it
        total += c.user + c.system
    return total


def cpu_seconds(groups: Mapping[str, Iterable[int]]) -> dict[str, float]:
    """CPU seconds so far of each named group of process trees (a group's roots must not contain each other)."""
    return {name: sum(_tree_cpu_s(pid) for pid in pids) for name, pids in groups.items()}


def per_turn_ms(before: Mapping[str, float], after: Mapping[str, float], turns: int) -> dict[str, float]:
    """Milliseconds of CPU per turn of each group between two `cpu_seconds` samples."""
    return {name: (after[name] - before[name]) * 1000 / max(turns, 1) for name in before}


def own_cpu_s() -> float:
    """CPU seconds of this process alone (the load generator), not of the servers it started."""
    t = psutil.Process(os.getpid()).cpu_times()
    return t.user + t.system
