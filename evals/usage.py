"""Model calls and tokens of a turn, counted by a callback that sees every call, the router's too."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult


@dataclass
class Usage:
    """Model calls and the tokens their providers reported, over one turn."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


TURN_USAGE: ContextVar[Usage | None] = ContextVar("comanda_eval_turn_usage", default=None)


class UsageMeter(BaseCallbackHandler):
    """Counts every chat model call of the turn running in this context and the tokens it reported.

    The router's structured-output call leaves no message in the conversation (only its parsed choice), so
    the graph's own traces can't see its tokens; a callback on the model sees every call, whoever made it.
    """

    run_inline = True  # the counters live in the caller's context: no executor hop

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        usage = TURN_USAGE.get()
        if usage is None:
            return
        for generations in response.generations:
            for generation in generations:
                usage.calls += 1
                message = getattr(generation, "message", None)
                meta = getattr(message, "usage_metadata", None)
                if meta:
                    usage.tokens_in += int(meta.get("input_tokens") or 0)
                    usage.tokens_out += int(meta.get("output_tokens") or 0)
