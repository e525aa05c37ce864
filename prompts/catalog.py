"""Shortcuts over the default prompt set ($COMANDA_PROMPTS or "v1"), for code that just needs a sentence."""

from __future__ import annotations

from typing import Any

from prompts.loader import PromptSet, load_prompt_set


def default_set() -> PromptSet:
    """The prompt set chosen by $COMANDA_PROMPTS (or "v1"), loaded once."""
    return load_prompt_set()


def text(key: str, locale: str = "pt-BR", **fields: Any) -> str:
    """Render one reply sentence from the default set."""
    return load_prompt_set().reply(key, locale, **fields)


def has(key: str) -> bool:
    """Whether the default set has a reply under this key."""
    return load_prompt_set().has_reply(key)


def system(name: str, locale: str = "pt-BR", **context: Any) -> str:
    """Render a system prompt from the default set."""
    return load_prompt_set().system(name, locale, **context)
