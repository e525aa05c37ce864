"""Greetings ("oi", "boa noite"): the offline model answers them, and the graph offers a regular their usual order
when a conversation opens with one."""

from __future__ import annotations

from graph.language.text import words

GREETING = (
    "oi",
    "ola",
    "opa",
    "eai",
    "e ai",
    "bom dia",
    "boa tarde",
    "boa noite",
    "hello",
    "hi",
    "hey",
    "salve",
    "good evening",
    "good morning",
    "good afternoon",
    "tudo bem",
    "oie",
    "oii",
)


def is_greeting(text: str) -> bool:
    """Whether the text greets ("oi, tudo bem?", "Boa noite!"), wherever the greeting sits in it."""
    padded = f" {' '.join(words(text))} "
    return any(f" {g} " in padded for g in GREETING)
