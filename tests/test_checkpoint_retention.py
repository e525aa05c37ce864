"""A conversation keeps only its latest checkpoint, and loses nothing it needs by it."""

from __future__ import annotations

from conversation_support import open_chat

from memory.db import Pool


async def rows(pool: Pool, table: str, thread: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT count(*) AS n FROM {table} WHERE thread_id = %s", (thread,))
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def test_only_the_latest_checkpoint_is_kept_and_the_conversation_goes_on(demo: Pool) -> None:
    chat = await open_chat(demo, "+5511977770001")
    for text in ("oi", "Rafael Souza", "Rua Harmonia, 123, Vila Madalena", "pular", "sim", "quero 2 x-salada"):
        await chat.say(text)
    thread = chat.ctx.thread_id
    assert await rows(demo, "checkpoints", thread) == 1
    blobs = await rows(demo, "checkpoint_blobs", thread)
    # one blob per non-primitive channel of the latest checkpoint: none left over from the six turns before
    async with demo.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM checkpoint_blobs b, checkpoints k, jsonb_each_text(k.checkpoint -> "
            "'channel_versions') v WHERE k.thread_id = %s AND b.thread_id = k.thread_id AND b.channel = v.key "
            "AND b.version = v.value",
            (thread,),
        )
        used = (await cur.fetchone() or {"n": 0})["n"]
    assert blobs == used and blobs > 0
    # what the pruned checkpoints held is still there: the cart and the registration carry on
    reply = await chat.say("mais 1 x-salada")
    assert "3x X-Salada" in reply and "R$ 103,20" in reply, chat.dump()
    assert chat.last is not None and chat.last.state is not None
    assert {line.sku: line.qty for line in chat.last.state.cart.lines} == {"BG-XSALADA": 3}
    assert await rows(demo, "checkpoints", thread) == 1
