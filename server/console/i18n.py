"""The console's own words (labels, notices, quick replies), pt-BR and en, from `prompts/console/`."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

import prompts

CONSOLE_TEXTS = Path(prompts.__file__).parent / "console"


@cache
def texts(locale: str) -> dict[str, Any]:
    """Every console text of a locale (English for a locale we don't have)."""
    name = "pt-BR" if locale.lower().startswith("pt") else "en"
    loaded: dict[str, Any] = yaml.safe_load((CONSOLE_TEXTS / f"{name}.yaml").read_text(encoding="utf-8"))
    return loaded


def translator(locale: str) -> Any:
    """`t("key", **fields)` for templates."""
    table = texts(locale)

    def t(key: str, **fields: Any) -> Any:
        value = table[key]
        return value.format(**fields) if fields and isinstance(value, str) else value

    return t
