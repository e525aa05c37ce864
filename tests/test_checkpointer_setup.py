"""Several workers starting at once on a fresh database all get a working checkpointer."""

from __future__ import annotations

import asyncio

import pytest
from conftest import create_database

from memory.checkpointer import make_checkpointer
from memory.db import open_pool


@pytest.mark.parametrize("attempt", range(3))
async def test_workers_starting_together_all_set_up_the_checkpointer(pg_base_url: str, attempt: int) -> None:
    url = create_database(pg_base_url)
    pools = [await open_pool(url, max_size=2, name=f"w{i}") for i in range(3)]
    try:
        # the saver's migrations use CREATE INDEX CONCURRENTLY; a blocking advisory lock made this hang
        savers = await asyncio.wait_for(asyncio.gather(*(make_checkpointer(p) for p in pools)), timeout=60)
        config = {"configurable": {"thread_id": "1:+5511999990001", "checkpoint_ns": ""}}
        assert all([await s.aget_tuple(config) is None for s in savers])  # type: ignore[arg-type]
    finally:
        for p in pools:
            await p.close()
