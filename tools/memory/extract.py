"""Facts worth remembering in a customer's messages: rules for the offline model, structured output for a real one.

Both return `NewMemory` rows with a `subject` that says what the fact is about ("allergy:camarao", "address"), so
a later fact about the same thing supersedes the earlier one ("agora moro em Pinheiros").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

import prompts
from memory.repos.memories import MemoryKind, NewMemory
from tools.text import fold_in_place as fold

_PROMPT_DIR = Path(prompts.__file__).parent / "memory"
# the object of a fact ends at punctuation, a conjunction that starts another thought, or a courtesy
_END = (
    r"(?=\s*(?:[,.;!?]|\bpor favor\b|\bpfv?\b|\bplease\b|\bmas\b|\bbut\b|\bporque\b|\bbecause\b"
    r"|\bpr?a mim\b|\bpara mim\b|\bfor me\b|$))"
)
_OBJ = r"(?P<x>[a-z0-9][a-z0-9' -]{1,60}?)"


def subject_key(text: str) -> str:
    """A stable key for a thing named in free text ("Camarões" → "camarao")."""
    words = re.findall(r"[a-z0-9]+", fold(text))
    words = [w for w in words if w not in {"a", "o", "as", "os", "de", "da", "do", "the"}]
    return " ".join(_singular(w) for w in words)


def _singular(word: str) -> str:
    if len(word) <= 3:
        return word
    if word.endswith("oes"):
        return word[:-3] + "ao"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class _Rule:
    def __init__(self, kind: MemoryKind, pattern: str, subject: str | None) -> None:
        self.kind = kind
        self.pattern = re.compile(pattern)
        # "{x}" is replaced by the key of the captured object; None: the fact never replaces another
        self.subject = subject


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "allergy",
        rf"\b(?:sou|to|tou|estou|eu sou)?\s*alergic[oa]s?\s+(?:a|ao|aos|as|de|com)\s+{_OBJ}{_END}",
        "allergy:{x}",
    ),
    _Rule("allergy", rf"\b(?:tenho )?alergia (?:a|ao|aos|as|de|com)\s+{_OBJ}{_END}", "allergy:{x}"),
    _Rule("allergy", rf"\b(?:i'?m|i am)\s+allergic to\s+{_OBJ}{_END}", "allergy:{x}"),
    _Rule("diet", r"\b(?:sou|agora sou)\s+(?P<x>vegetarian[oa]|vegan[oa]|celiac[oa])\b", "diet:{x}"),
    _Rule("diet", r"\b(?:i'?m|i am)\s+(?:a\s+)?(?P<x>vegetarian|vegan|celiac)\b", "diet:{x}"),
    _Rule("diet", r"\b(?P<x>intolerante a lactose|nao como carne|lactose intolerant)\b", "diet:{x}"),
    _Rule("preference", rf"\bsempre sem\s+{_OBJ}{_END}", "preference:sem {x}"),
    _Rule("preference", r"\bsem\s+(?P<x>[a-z0-9][a-z0-9 -]{1,40}?)\s+sempre\b", "preference:sem {x}"),
    _Rule("preference", rf"\bnunca (?:coloca|coloque|poe|ponha|bota|quero)\s+{_OBJ}{_END}", "preference:sem {x}"),
    _Rule("preference", rf"\balways without\s+{_OBJ}{_END}", "preference:sem {x}"),
    _Rule("preference", rf"\bsempre com\s+{_OBJ}{_END}", "preference:com {x}"),
    _Rule("preference", r"\b(?P<x>borda (?:de )?[a-z]+) sempre\b", "preference:com {x}"),
    _Rule("address", rf"\b(?:agora )?moro (?:em|no|na|nos|nas)\s+{_OBJ}{_END}", "address"),
    _Rule("address", rf"\b(?:me mudei|mudei) (?:para|pra|pro)\s+{_OBJ}{_END}", "address"),
    _Rule("address", rf"\bi (?:now )?live (?:in|at)\s+{_OBJ}{_END}", "address"),
    _Rule(
        "address", r"\b(?:entrega|entregar|manda|mandar) (?:sempre )?(?P<x>no (?:meu )?trabalho|em casa)\b", "address"
    ),
    _Rule(
        "time",
        r"\b(?:costumo|sempre|geralmente|normalmente)\s+(?:pedir|peco|pe[cç]o)?\s*(?:\w+\s+){0,3}?"
        r"(?P<x>na hora do almoco|no almoco|a noite|de noite|no jantar|de manha|no fim de semana)\b",
        "time",
    ),
    _Rule("time", r"\b(?P<x>(?:no trabalho )?na hora do almoco)\b", "time"),
    _Rule("time", r"\bi usually order\s+(?P<x>at lunch(?:time)?|at night|for dinner|on weekends)\b", "time"),
    _Rule(
        "favourite",
        rf"\b(?:minha|meu)\s+(?:\w+\s+)?(?:favorit[oa]|preferid[oa])\s+(?:e|eh)\s+(?:a |o )?{_OBJ}{_END}",
        "favourite:{x}",
    ),
    _Rule("favourite", rf"\b(?:adoro|amo)\s+(?:a|o)\s+{_OBJ}{_END}", "favourite:{x}"),
    _Rule("favourite", rf"\bmy favou?rite(?:\s+\w+)? is (?:the )?{_OBJ}{_END}", "favourite:{x}"),
    _Rule(
        "complaint",
        r"\b(?:veio|chegou|tava|estava|came|arrived|was)\s+(?:\w+\s+)?"
        r"(?:fri[oa]|errad[oa]|atrasad[oa]|queimad[oa]|faltando|cold|wrong|late|burnt|missing)\b",
        None,
    ),
    _Rule("complaint", r"\b(?:demorou demais|demorou muito|quero reclamar|reclamacao|took too long|complaint)\b", None),
)

# several things at once: "alérgico a camarão e amendoim"
_SPLIT = re.compile(r"\s*(?:,|\be\b|\band\b|\bou\b|\bor\b)\s*")


class Extractor(Protocol):
    """Finds facts worth remembering in the messages of one finished turn."""

    async def extract(self, texts: Sequence[str], locale: str) -> list[NewMemory]: ...


class RuleExtractor:
    """The offline model's extractor: patterns over the customer's own words, pt-BR and English."""

    async def extract(self, texts: Sequence[str], locale: str) -> list[NewMemory]:
        """Facts in `texts`, in the order they were said (a later one about the same subject wins)."""
        return extract_by_rules(texts)


def extract_by_rules(texts: Sequence[str]) -> list[NewMemory]:
    """Rule extraction (synchronous: no model, a few regexes)."""
    found: dict[tuple[MemoryKind, str | None, str], NewMemory] = {}
    for text in texts:
        for clause in re.split(r"[\n.;!?]+", text):
            clause = " ".join(clause.split())
            if not clause:
                continue
            folded = fold(clause)
            for rule in _RULES:
                for m in rule.pattern.finditer(folded):
                    for memory in _memories(rule, clause, m):
                        found.setdefault((memory.kind, memory.subject, memory.text), memory)
    return list(found.values())


def _memories(rule: _Rule, clause: str, m: re.Match[str]) -> list[NewMemory]:
    if rule.subject is None:
        return [NewMemory(kind=rule.kind, text=clause[:200], subject=None)]
    start, end = m.span("x")
    obj = clause[start:end].strip()
    if rule.kind == "allergy":
        parts = [p for p in _SPLIT.split(obj) if p.strip()]
        phrase = clause[m.start() : m.end()].strip()
        if len(parts) == 1:
            return [NewMemory(kind="allergy", text=phrase, subject=rule.subject.format(x=subject_key(obj)))]
        # one memory per allergen: each can be revoked or matched against a menu item on its own
        lead = clause[m.start() : start].strip()
        return [
            NewMemory(kind="allergy", text=f"{lead} {p.strip()}", subject=rule.subject.format(x=subject_key(p)))
            for p in parts
        ]
    key = subject_key(obj)
    if not key:
        return []
    text = clause[m.start() : m.end()].strip()
    return [NewMemory(kind=rule.kind, text=text, subject=rule.subject.format(x=key))]


# ----------------------------------------------------------------------------- a real model


class ExtractedMemory(BaseModel):
    """One fact as the model reports it."""

    model_config = ConfigDict(extra="ignore")

    kind: MemoryKind
    about: str = Field(description="what the fact is about, in 1-3 words (the allergen, the item, 'address')")
    text: str = Field(description="the fact in the customer's own words, short")


class Extraction(BaseModel):
    """The model's structured answer."""

    memories: list[ExtractedMemory] = Field(default_factory=list)


def extraction_prompt(locale: str) -> str:
    """The system prompt of the extraction call (prompts/memory/extraction.<locale>.md)."""
    loc = "en" if locale.lower().startswith("en") else "pt-BR"
    return (_PROMPT_DIR / f"extraction.{loc}.md").read_text(encoding="utf-8").strip()


_SINGLETON: frozenset[str] = frozenset({"address", "time"})


class ModelExtractor:
    """A real chat model's extractor: one structured-output call per finished turn, off the reply path."""

    def __init__(self, model: BaseChatModel) -> None:
        self._structured = model.with_structured_output(Extraction)

    async def extract(self, texts: Sequence[str], locale: str) -> list[NewMemory]:
        """Facts in `texts`; an answer that doesn't fit the schema is an error for the job to retry."""
        said = "\n".join(f"- {t}" for t in texts if t.strip())
        if not said:
            return []
        answer = await self._structured.ainvoke([SystemMessage(extraction_prompt(locale)), HumanMessage(said)])
        extraction = answer if isinstance(answer, Extraction) else Extraction.model_validate(answer)
        out: list[NewMemory] = []
        for item in extraction.memories:
            text = " ".join(item.text.split())[:200]
            if not text:
                continue
            subject: str | None
            if item.kind == "complaint":
                subject = None
            elif item.kind in _SINGLETON:
                subject = item.kind
            else:
                subject = f"{item.kind}:{subject_key(item.about) or subject_key(text)}"
            out.append(NewMemory(kind=item.kind, text=text, subject=subject))
        return out
