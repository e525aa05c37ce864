"""PIX "copia e cola" codes: the BR Code EMV payload (Manual do BR Code, Banco Central) with its CRC16."""

from __future__ import annotations

import re
from decimal import Decimal

from unidecode import unidecode

from tools.money import to_cents

PIX_GUI = "br.gov.bcb.pix"
MAX_NAME = 25
MAX_CITY = 15
MAX_TXID = 25


def crc16(data: bytes) -> int:
    """CRC16-CCITT (polynomial 0x1021, initial 0xFFFF, no reflection, no final xor), as the BR Code uses."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"BR Code field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def _ascii(text: str, limit: int) -> str:
    # bank apps reject non-ASCII in name and city; keep letters, digits, spaces and simple punctuation
    folded = re.sub(r"[^A-Za-z0-9 .,&'-]", "", unidecode(text))
    return re.sub(r"\s+", " ", folded).strip()[:limit].rstrip()


def _txid(txid: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9]", "", txid)[:MAX_TXID]
    return cleaned or "***"  # "***" means "no transaction id" in the manual


def format_amount(amount: Decimal) -> str:
    """The amount as the BR Code writes it: dot decimal separator, two decimals, no thousands separator."""
    return f"{to_cents(amount):.2f}"


def brcode(key: str, amount: Decimal | None, merchant_name: str, merchant_city: str, txid: str) -> str:
    """A static PIX BR Code for `key`; `amount` None lets the payer type it."""
    name = _ascii(merchant_name, MAX_NAME) or "COMANDA"
    city = _ascii(merchant_city, MAX_CITY) or "SAO PAULO"
    payload = (
        _field("00", "01")
        + _field("26", _field("00", PIX_GUI) + _field("01", key))
        + _field("52", "0000")
        + _field("53", "986")
        + (_field("54", format_amount(amount)) if amount is not None else "")
        + _field("58", "BR")
        + _field("59", name)
        + _field("60", city)
        + _field("62", _field("05", _txid(txid)))
        + "6304"
    )
    return payload + f"{crc16(payload.encode('ascii')):04X}"


def crc_ok(code: str) -> bool:
    """Whether a BR Code ends with the right CRC for everything before it."""
    if len(code) < 8 or code[-8:-4] != "6304":
        return False
    return f"{crc16(code[:-4].encode('ascii')):04X}" == code[-4:].upper()
