"""Personal data and capability URLs kept out of log lines.

Everything a log line may carry about a customer goes through here: conversation (thread) ids become a short
keyed hash (`conv#…`), phones are masked, and `PersonalDataFilter` rewrites every record a handler emits so that
phones, thread ids, e-mails, CPFs/CNPJs, PIX copy-and-paste codes, signatures of capability URLs (`sig=`, `s=`)
and the values of personal keys (`name=…`, `"address": …`) never reach a log.

It lives in `memory`, the bottom of the dependency chain (comanda → server → graph → tools → memory), so that any
layer can name a conversation in a log line the same way without importing upwards; `memory` also holds the
personal data itself, so the rules for how that data may show up outside it belong with it.

Names and addresses have no shape a pattern could find in free text: code must not log a customer's words. The
key-based rules catch them when they travel as fields (`name='…'` in a repr, `"address": …` in JSON, `extra=`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Until a process sets the deployment's key, hashes are stable within the process only (never guessable from
# outside: a phone has few enough digits to brute-force an unkeyed hash).
_key: bytes = secrets.token_bytes(32)

CONV_PREFIX = "conv#"
_HASH_CHARS = 10


def set_hash_key(secret: bytes) -> None:
    """Key the log hashes with the deployment's secret, so every process names a conversation alike."""
    global _key
    # a key of its own: a log hash must never double as a pay-link or webhook signature
    _key = hmac.new(secret, b"comanda:log-ids", hashlib.sha256).digest()


def conversation_ref(thread_id: str) -> str:
    """`conv#a1b2c3d4e5` for a thread id `"{tenant_id}:{phone}"`: stable, short, not reversible without the key."""
    digest = hmac.new(_key, thread_id.encode(), hashlib.sha256).hexdigest()
    return CONV_PREFIX + digest[:_HASH_CHARS]


def customer_ref(tenant_id: int, phone: str) -> str:
    """The `conversation_ref` of a tenant's customer (the thread id is `"{tenant_id}:{phone}"`)."""
    return conversation_ref(f"{tenant_id}:{phone}")


def mask_phone(phone: str) -> str:
    """`+5511********01`: country and area code kept (where traffic comes from), the subscriber number hidden."""
    digits = re.sub(r"\D", "", phone.upper().replace("%2B", "+"))
    if len(digits) < 8:
        return "<phone>"
    plus = "+" if phone.lstrip().upper().startswith(("+", "%2B")) else ""
    return plus + digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


# Keys whose values are personal data or secrets wherever they show up: structured `extra` fields, mapping args,
# `key=value` / `key='value'` (reprs, forms, query strings) and `"key": "value"` (JSON, dict reprs).
DENY_KEYS: frozenset[str] = frozenset(
    {
        "phone",
        "customer_phone",
        "to",
        "from",
        "from_",
        "to_phone",
        "from_phone",
        "waid",
        "wa_id",
        "profilename",
        "profile_name",
        "name",
        "customer_name",
        "address",
        "street",
        "number",
        "complement",
        "neighborhood",
        "reference",
        "cep",
        "zip",
        "postal_code",
        "latitude",
        "longitude",
        "email",
        "cpf",
        "cnpj",
        "cpfcnpj",
        "cpf_cnpj",
        "pix_code",
        "payload",
        "encodedimage",
        "body",
        "text",
        "texts",
        "content",
        "replies",
        # pydantic's validation errors quote what failed: a name, an address
        "input",
        "input_value",
        # capability URLs and credentials
        "sig",
        "s",
        "c",
        "signature",
        "token",
        "access_token",
        "auth_token",
        "secret",
        "secret_key",
        "password",
        "api_key",
        "x-amz-signature",
        "x-amz-security-token",
    }
)


def _conv_sub(m: re.Match[str]) -> str:
    return conversation_ref(f"{m['tenant']}:+{m['digits']}")


def _phone_sub(m: re.Match[str]) -> str:
    return mask_phone(m[0])


def _key_value_sub(m: re.Match[str]) -> str:
    if m["key"].lower() not in DENY_KEYS:
        # the value was consumed with its key: look inside it too (`url=https://…/pay/1?sig=…`)
        return m["pre"] + _KEY_VALUE.sub(_key_value_sub, m["value"])
    quote = (m["value"] or " ")[0]
    return f"{m['pre']}{quote}***{quote}" if quote in "\"'" else f"{m['pre']}***"


_QUOTED = r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'"
_PLUS = ("+", "%2B", "%2b")
# key=value, key='value': forms, query strings (the sig= and s= of signed URLs), logfmt, reprs
# (a list value, `texts=['…', '…']` in a repr such as procrastinate's job lines, is consumed whole)
_KEY_VALUE = re.compile(
    rf"(?P<pre>(?<![\w.%-])(?P<key>[A-Za-z_][\w-]*)=)"
    rf"(?P<value>{_QUOTED}|\[(?:{_QUOTED}|[^\]\"'])*\]|[^\s&#,;)\]}}\"'<>]*)"
)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    repl: str | Callable[[re.Match[str]], str]
    needs: tuple[str, ...] = ()  # it can only match text holding one of these (a cheap test first)
    digits: int = 0  # ... or a run of at least this many digits


# Order matters: credentials and key=value pairs first (their values may hold anything), then the shapes found
# anywhere in free text, thread ids before the phones inside them.
_RULES: tuple[_Rule, ...] = (
    # postgresql://user:password@host
    _Rule(re.compile(r"(?P<pre>\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@/\s]+@", re.I), r"\g<pre>***@", ("@",)),
    _Rule(_KEY_VALUE, _key_value_sub, ("=",)),
    # "key": "value" and 'key': 'value' (JSON, dict reprs)
    _Rule(
        re.compile(rf"(?P<pre>(?P<kq>[\"'])(?P<key>[A-Za-z_][\w-]*)(?P=kq)\s*:\s*)(?P<value>{_QUOTED})"),
        _key_value_sub,
        ('":', "':"),
    ),
    # PIX copy-and-paste (EMV BR Code): from the payload format indicator to the CRC, or to the end of the line
    _Rule(re.compile(r"(?<![0-9A-Za-z])000201[^\n\"'<>]{8,600}?6304[0-9A-Fa-f]{4}"), "<pix>", ("000201",)),
    _Rule(re.compile(r"(?<![0-9A-Za-z])000201[^\n\"'<>]{8,}"), "<pix>", ("000201",)),
    _Rule(re.compile(r"MDAwMjAx[A-Za-z0-9_\-+/]*=*"), "<pix>", ("MDAwMjAx",)),  # the same code in base64
    # thread ids "{tenant_id}:{+phone}", also inside Redis keys (comanda:conv:1:+55…)
    _Rule(
        re.compile(r"(?<![\w+])(?P<tenant>\d{1,12})(?::|%3A)(?:\+|%2B)(?P<digits>\d{8,15})(?!\d)", re.I),
        _conv_sub,
        _PLUS,
        digits=8,
    ),
    _Rule(re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "<email>", ("@",)),
    _Rule(re.compile(r"(?<![\w.])\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}(?!\d)"), "<cnpj>", ("/",), digits=4),
    _Rule(re.compile(r"(?<![\w.])\d{3}\.\d{3}\.\d{3}-\d{2}(?!\d)"), "<cpf>", ("-",)),
    # phones: E.164 (+ or %2B), Brazilian with separators, bare 55-prefixed digits
    _Rule(re.compile(r"(?:\+|%2B)\d{8,15}(?!\d)", re.I), _phone_sub, _PLUS, digits=8),
    _Rule(
        re.compile(r"(?<![\w.])(?:(?:\+|%2B)55[\s.-]?)?\(?[1-9]\d\)?[\s.-]?9?\d{4}[\s.-]\d{4}(?![\w])", re.I),
        _phone_sub,
        digits=4,
    ),
    _Rule(re.compile(r"(?<![\w.+])55[1-9]\d9?\d{8}(?![\w.])"), _phone_sub, digits=12),
    # eleven bare digits: a CPF or a phone without its country code
    _Rule(re.compile(r"(?<![\w.+])\d{11}(?![\w.])"), "<number>", digits=11),
)
_DIGIT_RUN = re.compile(r"\d{4,}")


def mask_text(text: str) -> str:
    """`text` with every phone, thread id, e-mail, CPF/CNPJ, PIX code, signature and personal field masked."""
    longest = max((len(run) for run in _DIGIT_RUN.findall(text)), default=0)
    for rule in _RULES:
        if rule.digits > longest:
            continue
        if rule.needs:
            for needed in rule.needs:
                if needed in text:
                    break
            else:
                continue
        # masking only removes digits, so the count taken first never skips a rule that could still match
        text = rule.pattern.sub(rule.repl, text)
    return text


def _denied(key: object) -> bool:
    return isinstance(key, str) and key.lower() in DENY_KEYS


# the attributes every LogRecord has; anything else came in through `extra=`
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_DONE = "_comanda_masked"


class PersonalDataFilter(logging.Filter):
    """Masks personal data and capability URLs in every record it sees: message, args, extras, traceback.

    Install it on handlers (a handler's filters see every record that reaches it, whichever logger it came from).
    It rewrites the record in place, so handlers after it see the masked record too; it never drops one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        setattr(record, _DONE, True)
        try:
            message = record.getMessage()
        except Exception:
            # logging would print the raw msg and args to stderr while reporting the bad format
            record.msg, record.args = mask_text(f"{record.msg} {record.args}"), None
        else:
            masked = mask_text(message)
            if masked != message:
                self._mask_args(record)
                try:
                    same = record.getMessage() == masked
                except Exception:
                    same = False
                if not same:
                    # a pattern spans the format and its args (`sig=%s`, `%s:%s`): only the masked whole is safe
                    record.msg, record.args = masked, None
        for key, value in list(vars(record).items()):
            if key in _RECORD_ATTRS or key == _DONE:
                continue
            if _denied(key):
                setattr(record, key, "***")
            elif isinstance(value, str):
                setattr(record, key, mask_text(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True

    @staticmethod
    def _mask_args(record: logging.LogRecord) -> None:
        # args stay a tuple where possible: some formatters (uvicorn's access log) unpack them
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(mask_text(a) if isinstance(a, str) else a for a in args)
        elif isinstance(args, Mapping):
            record.args = {
                k: "***" if _denied(k) else mask_text(v) if isinstance(v, str) else v for k, v in args.items()
            }
