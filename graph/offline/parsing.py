"""Pure text understanding for the offline chat model: no database, no network, no LLM.

Customers write informal Brazilian Portuguese (typos, no accents, WhatsApp slang) or English.
Everything here is deterministic and works on plain strings. The parsers live in `graph.offline.parse`, one module
per kind of thing customers write; this module is their public face.
"""

from __future__ import annotations

from graph.offline.parse.address import AddressParts, parse_address
from graph.offline.parse.contact import parse_cep, parse_cpf, parse_email
from graph.offline.parse.fuzzy import FuzzyHit, fuzzy_find
from graph.offline.parse.lines import LineRequest, parse_quantity_word, split_order_lines
from graph.offline.parse.money import PaymentChoice, parse_money, parse_payment
from graph.offline.parse.names import parse_name
from graph.offline.parse.text import detect_locale, is_gibberish_or_empty, normalize
from graph.offline.parse.yesno import parse_yes_no

__all__ = [
    "AddressParts",
    "FuzzyHit",
    "LineRequest",
    "PaymentChoice",
    "detect_locale",
    "fuzzy_find",
    "is_gibberish_or_empty",
    "normalize",
    "parse_address",
    "parse_cep",
    "parse_cpf",
    "parse_email",
    "parse_money",
    "parse_name",
    "parse_payment",
    "parse_quantity_word",
    "parse_yes_no",
    "split_order_lines",
]
