"""What every offline policy shares: the decision type, reply rendering, error sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from graph.offline import parsing as p
from graph.offline.view import ToolExchange
from prompts import PromptSet


@dataclass
class Decision:
    """Tool calls to make, or the text to send; `understood` is False when we had to ask again."""

    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    text: str | None = None
    understood: bool = True


def call(tool: str, /, **args: Any) -> Decision:
    """A single tool call."""
    return Decision(tool_calls=[(tool, {k: v for k, v in args.items() if v is not None})])


class Say:
    """Renders replies in the conversation's locale."""

    def __init__(self, prompts: PromptSet, locale: str) -> None:
        self.prompts = prompts
        self.locale = locale if locale in ("pt-BR", "en") else "pt-BR"

    def __call__(self, key: str, **fields: Any) -> str:
        return self.prompts.reply(key, self.locale, **fields)

    def join(self, *parts: str | None) -> str:
        """Paragraphs, skipping empty ones."""
        return "\n\n".join(x.strip() for x in parts if x and x.strip())

    def words(self, items: list[str]) -> str:
        """ "a, b e c" / "a, b and c"."""
        items = [i for i in items if i]
        if len(items) <= 1:
            return "".join(items)
        conj = " e " if self.locale == "pt-BR" else " and "
        return ", ".join(items[:-1]) + conj + items[-1]


# --- shared -----------------------------------------------------------------------------------------------


def not_understood(say: Say, key: str = "fallback.not_understood", **fields: Any) -> Decision:
    """Say we didn't understand (and count it as a failed turn)."""
    return Decision(text=say(key, **fields), understood=False)


_PUNCTUATION = re.compile(r"[,;:!?()\"]|\.(?=\s|$)")


def has_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether the normalized text contains any of the (normalized) words or phrases."""
    # punctuation stops a word as a space does: "vegano," is "vegano"
    norm = f" {_PUNCTUATION.sub(' ', p.normalize(text))} "
    return any(f" {w} " in norm for w in words)


def allergens_held(held: list[dict[str, Any]], say: Say) -> tuple[str, str]:
    """Held lines ({item, allergen}) grouped by allergen: the allergens ("leite e camarão") and what carries each
    ("*A e B* levam leite e *C* leva camarão"), for a one-sentence warning about all of them."""
    by_allergen: dict[str, list[str]] = {}
    for h in held:
        by_allergen.setdefault(h["allergen"], []).append(h["item"])
    contains = [
        say("cart.allergy_contains", item=names[0], option=allergen)
        if len(names) == 1
        else say("cart.allergy_contains_many", items=say.words(names), option=allergen)
        for allergen, names in by_allergen.items()
    ]
    return say.words(list(by_allergen)), say.words(contains)


def error_reply(ex: ToolExchange, say: Say, prefix: str, code: str | None = None) -> str | None:
    """The sentence for a tool error (`code`: a finer reading of it than the tool's own code), if the prompt set
    has one."""
    r = ex.result
    code = code or str(r.get("error", "internal"))
    key = f"{prefix}.{code}"
    fields = {
        "item": r.get("item") or ex.args.get("item") or "",
        "suggestions": say.words([str(s) for s in r.get("suggestions", [])]),
        "option": r.get("option")
        or say.words([str(o) for o in ex.args.get("options", []) + ex.args.get("removals", [])])
        or str(ex.args.get("choice", "")),
        "group": r.get("group") or "",
        "fields": say.words([str(f) for f in r.get("fields", [])]),
        "max": r.get("max", 50),
    }
    if say.prompts.has_reply(key):
        return say(key, **fields)
    if code == "internal":
        return say("error.internal")
    return None
