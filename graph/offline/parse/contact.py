"""E-mail, CPF and CEP."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from unidecode import unidecode

# ----------------------------------------------------------------------------- e-mail, CPF, CEP

# a run of non-space text around an "@"; email-validator then says whether it is an address (non-ASCII local
# parts like "joão@exemplo.com.br" included: a regex of ASCII letters used to cut it to "o@exemplo.com.br")
_EMAIL_CANDIDATE_RE = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+")


def parse_email(text: str) -> str | None:
    """First valid e-mail address in the text, lowercased."""
    for m in _EMAIL_CANDIDATE_RE.finditer((text or "").lower()):
        candidate = m.group(0).rstrip(".!?")
        try:
            checked = validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            continue
        return str(checked.normalized).lower()
    return None


_CPF_RE = re.compile(r"(?<![\d])(\d{3})[.\s]?(\d{3})[.\s]?(\d{3})[-.\s/]?(\d{2})(?![\d])")


def _cpf_valid(digits: str) -> bool:
    if len(digits) != 11 or digits == digits[0] * 11:
        return False
    for n in (9, 10):
        total = sum(int(digits[i]) * (n + 1 - i) for i in range(n))
        if (total * 10) % 11 % 10 != int(digits[n]):
            return False
    return True


def parse_cpf(text: str) -> str | None:
    """First CPF with valid check digits, digits only ("123.456.789-09" -> "12345678909")."""
    for m in _CPF_RE.finditer(unidecode(text or "")):
        digits = "".join(m.groups())
        if _cpf_valid(digits):
            return digits
    return None


_CEP_RE = re.compile(r"(?<![\d.,\-])(\d{2})\.?(\d{3})[-.]?(\d{3})(?![\d]|[.,\-]\d)")


def _find_cep(text: str) -> re.Match[str] | None:
    for m in _CEP_RE.finditer(text):
        if "".join(m.groups()) != "00000000":
            return m
    return None


def parse_cep(text: str) -> str | None:
    """Brazilian postal code as "01310-100" ("01310100", "01.310-100" and "CEP 01310-100" accepted)."""
    m = _find_cep(unidecode(text or ""))
    if not m:
        return None
    a, b, c = m.groups()
    return f"{a}{b}-{c}"
