"""Tokens of every model call of a turn, the router's structured output included (it leaves no message with usage)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.tracers.context import register_configure_hook


class TurnUsage(UsageMetadataCallbackHandler):
    """LangChain's usage counter, made cheap enough to sit on every turn.

    A sync handler is called on a thread-pool worker for each event unless `run_inline`, and it hears every
    chain event of every node and tool unless it ignores them: measured in `bench e2e`, those hops were ~12 %
    of a worker's CPU. It only needs the model's end, so it runs inline and ignores everything else.
    """

    run_inline = True

    @property
    def ignore_chain(self) -> bool:
        return True

    @property
    def ignore_agent(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True


_TURN_USAGE: ContextVar[TurnUsage | None] = ContextVar("comanda_turn_usage", default=None)
register_configure_hook(_TURN_USAGE, inheritable=True)


@contextmanager
def turn_usage() -> Iterator[TurnUsage]:
    """Count the usage of every model call made inside the block (what `get_usage_metadata_callback` does)."""
    handler = TurnUsage()
    token = _TURN_USAGE.set(handler)
    try:
        yield handler
    finally:
        _TURN_USAGE.reset(token)
