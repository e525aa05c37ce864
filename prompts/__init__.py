"""Versioned prompt sets: system prompts, every sentence the bot says (pt-BR and en), routing examples."""

from prompts import catalog
from prompts.catalog import default_set, text
from prompts.loader import (
    INTENTS,
    LOCALES,
    SYSTEM_FIELDS,
    SYSTEM_PROMPTS,
    TASK_PROMPTS,
    Example,
    MissingFieldError,
    PromptSet,
    PromptSetError,
    UnknownPromptError,
    available_versions,
    clear_prompt_cache,
    load_prompt_set,
    normalize_locale,
    resolve_prompt_dir,
)

__all__ = [
    "INTENTS",
    "LOCALES",
    "SYSTEM_FIELDS",
    "SYSTEM_PROMPTS",
    "TASK_PROMPTS",
    "Example",
    "MissingFieldError",
    "PromptSet",
    "PromptSetError",
    "UnknownPromptError",
    "available_versions",
    "catalog",
    "clear_prompt_cache",
    "default_set",
    "load_prompt_set",
    "normalize_locale",
    "resolve_prompt_dir",
    "text",
]
