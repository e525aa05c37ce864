"""The rolling summary of what history trimming dropped.

The offline model's is extractive, so it never says what nobody said: the customer's own words carry what matters
later (what they wanted, what went wrong); the bot's side is kept only as its first line, which is where replies say
what was done ("Anotado! ✅ 1x X-Salada"). A real model writes it from the prompt in the prompt set
(`tasks/summary.<locale>.md`), and falls back to the extractive one when it fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from prompts import PromptSet

log = logging.getLogger(__name__)

SUMMARY_CHARS = 1200  # what the state keeps; the oldest lines go first
_LINE_CHARS = 160
# what the model reads of one dropped message: enough for a reply with a cart, bounded for a pasted essay
_MODEL_LINE_CHARS = 600
# a model summary costs a call on the turn that trims: a trim then goes this many messages further, so the next one
# (and its call) comes a few turns later instead of on every turn past the limit
MODEL_TRIM_SLACK = 10
# the customer is waiting for this turn's reply: a slow provider costs the model's summary, not the answer
MODEL_TIMEOUT_S = 6.0


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)


def _line(message: BaseMessage, *, whole: bool = False) -> str | None:
    # `whole`: the model's material, the bot's whole reply on one line; otherwise the extractive line
    if isinstance(message, HumanMessage):
        text = " ".join(_text(message).split())
        return f"> {text[: _MODEL_LINE_CHARS if whole else _LINE_CHARS]}" if text else None
    if isinstance(message, AIMessage) and not message.tool_calls:
        if whole:
            said = " ".join(_text(message).split())
            return f"< {said[:_MODEL_LINE_CHARS]}" if said else None
        first = next((ln.strip() for ln in _text(message).splitlines() if ln.strip()), "")
        return f"< {first[:_LINE_CHARS]}" if first else None
    return None  # tool calls and results: their outcome is in the bot's reply


def rolling_summary(previous: str | None, dropped: Sequence[BaseMessage], *, limit: int = SUMMARY_CHARS) -> str:
    """`previous` plus the dropped messages, one line each, cut from the oldest to fit `limit` characters."""
    lines = [ln for ln in (previous or "").splitlines() if ln.strip()]
    lines += [ln for ln in (_line(m) for m in dropped) if ln]
    while lines and len("\n".join(lines)) > limit:
        lines.pop(0)
    return "\n".join(lines)


class Summarizer(Protocol):
    """Writes the rolling summary when history is trimmed."""

    # how many messages below the history limit a trim goes (0: just under it, every turn past it)
    trim_slack: int

    async def summarize(self, previous: str | None, dropped: Sequence[BaseMessage], locale: str) -> str: ...


class ExtractiveSummarizer:
    """The offline model's: `rolling_summary`, no model call."""

    trim_slack = 0

    async def summarize(self, previous: str | None, dropped: Sequence[BaseMessage], locale: str) -> str:
        """`previous` plus one line per dropped message."""
        return rolling_summary(previous, dropped)


class ModelSummarizer:
    """A real chat model's: one call with the prompt set's summary prompt, the extractive summary if it fails."""

    def __init__(self, model: BaseChatModel, prompts: PromptSet, *, timeout_s: float = MODEL_TIMEOUT_S) -> None:
        self._model = model
        self._prompts = prompts
        self._timeout_s = timeout_s
        self.trim_slack = MODEL_TRIM_SLACK

    async def summarize(self, previous: str | None, dropped: Sequence[BaseMessage], locale: str) -> str:
        """A new summary merging `previous` and the dropped messages (`locale`: the language it is written in)."""
        transcript = "\n".join(ln for ln in (_line(m, whole=True) for m in dropped) if ln)
        if not transcript:
            return previous or ""  # only tool calls and results left: nothing a summary would add
        prompt = [
            SystemMessage(self._prompts.task("summary", locale)),
            HumanMessage(
                self._prompts.task("summary_input", locale, previous_summary=previous or "-", messages=transcript)
            ),
        ]
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await self._model.ainvoke(prompt)
            text = answer.text.strip()
            if not text:
                raise ValueError("the model answered an empty summary")
        except Exception as exc:
            # never the turn's loss: the extractive summary keeps what was dropped; the type only (no words logged)
            log.warning("conversation summary: the model failed (%s); kept an extractive one", type(exc).__name__)
            return rolling_summary(previous, dropped)
        return _fit(text, SUMMARY_CHARS)


def _fit(text: str, limit: int) -> str:
    """The summary cut from its oldest lines to fit `limit` (the model was asked for less)."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    while len(lines) > 1 and len("\n".join(lines)) > limit:
        lines.pop(0)
    return "\n".join(lines)[-limit:]
