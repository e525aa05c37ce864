"""The rolling summary of what history trimming dropped: extractive, so it never says what nobody said.

The customer's own words carry what matters later (what they wanted, what went wrong); the bot's side is kept
only as its first line, which is where replies say what was done ("Anotado! ✅ 1x X-Salada").
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

SUMMARY_CHARS = 1200  # what the state keeps; the oldest lines go first
_LINE_CHARS = 160


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)


def _line(message: BaseMessage) -> str | None:
    if isinstance(message, HumanMessage):
        text = " ".join(_text(message).split())
        return f"> {text[:_LINE_CHARS]}" if text else None
    if isinstance(message, AIMessage) and not message.tool_calls:
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
