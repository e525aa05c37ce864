"""Text utilities production and the offline model share: fold and normalise, tell languages apart, read
yes/no answers, spot messages with nothing to read. No database, no model, plain strings in and out."""

from __future__ import annotations

from graph.language.locale import Language, Locale, conversation_locale, detect_language, detect_locale
from graph.language.noise import is_gibberish_or_empty
from graph.language.text import normalize, phrases, words
from graph.language.yesno import parse_yes_no
from tools.text import fold

__all__ = [
    "Language",
    "Locale",
    "conversation_locale",
    "detect_language",
    "detect_locale",
    "fold",
    "is_gibberish_or_empty",
    "normalize",
    "parse_yes_no",
    "phrases",
    "words",
]
