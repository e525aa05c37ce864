"""Personal data and capability URLs kept out of log lines.

Everything a log line may carry about a customer goes through here: conversation (thread) ids become a short
keyed hash (`conv#…`), phones are masked, and `PersonalDataFilter` rewrites every record a handler emits so that
phones, thread ids, e-mails, CPFs/CNPJs, PIX copy-and-paste codes, signatures of capability URLs (`sig=`, `s=`)
and the values of personal keys (`name=…`, `"address": …`) never reach a log.

It lives in `memory`, the bottom of the dependency chain (comanda → server → graph → tools → memory), so that any
layer can name a conversation in a log line the same way without importing upwards; `memory` also holds the
personal data itself, so the rules for how that data may show up outside it belong with it.

A street has a shape (its type, "Rua", "Av.", then its name and number) and a CEP too: both are masked in free
text. A name has none: code must not log a customer's words. The key-based rules catch names and addresses when
they travel as fields (`name='…'` in a repr, `"address": …` in JSON, `extra=`).

`mask_trace` applies the same rules to LangSmith runs (inputs, outputs, metadata, errors), keeping the words of
the conversation and its structure; `mask_langsmith_traces` installs it on the process's LangSmith client.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langsmith import Client

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
    """`+5511*****0123`: country and area code and the last 4 digits kept (enough to tell two customers apart
    when reading a log with them), the rest of the subscriber number hidden."""
    digits = re.sub(r"\D", "", phone.upper().replace("%2B", "+"))
    if len(digits) < 8:
        return "<phone>"
    plus = "+" if phone.lstrip().upper().startswith(("+", "%2B")) else ""
    # a number without its country code keeps only its tail: at least 4 digits always stay hidden
    head = digits[:4] if len(digits) >= 12 else ""
    return plus + head + "*" * (len(digits) - len(head) - 4) + digits[-4:]


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


# Brazilian street types (and the English ones after a house number), then up to six words of the street's name
# and its number; over-masking a few words of a log line costs little, a street in it is personal data
_STREET = re.compile(
    # (a street may start a line inside JSON-escaped text: `\nRua dos...` has no word boundary before it)
    r"(?:(?:\b|(?<=\\[nrt]))(?i:rua|avenida|av\.?|alameda|al\.|travessa|tv\.|pra[çc]a|estrada|rodovia|largo|viela|beco|ladeira)"
    r"|(?:(?<![\w.])|(?<=\\[nrt]))R\.)"
    r"(?:[ \t]+(?:d[aeo]s?[ \t]+)?(?:[^\W\d_]|\\u[0-9a-fA-F]{4})(?:[\w'.º-]|\\u[0-9a-fA-F]{4})*){1,6}"
    r"(?:[ \t]*,?[ \t]*(?i:n[º°o]?\.?[ \t]*)?\d{1,6}[A-Za-z]?\b)?"
    r"|(?:\b|(?<=\\[nrt]))\d{1,6}(?:[ \t]+[A-Z][\w'.-]*){1,4}"
    r"[ \t]+(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd|Drive|Dr)\b\.?"
)


# a street's words, looked for in the lowered line first: the street pattern costs ~60 µs on a 250-character line,
# these substring tests a few, and most lines (ids, counts, logger names) hold none of them
_STREET_WORDS = (
    "rua", "av", "alameda", "al.", "travessa", "tv.", "praça", "praca", "estrada", "rodovia", "largo", "viela",
    "beco", "ladeira", "street", "road", "lane", "boulevard", "blvd", "drive", " st", " rd", " dr", " ln",
)  # fmt: skip


def _may_hold_a_street(text: str) -> bool:
    if "R." in text:
        return True
    lowered = text.lower()
    return any(word in lowered for word in _STREET_WORDS)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    repl: str | Callable[[re.Match[str]], str]
    needs: tuple[str, ...] = ()  # it can only match text holding one of these (a cheap test first)
    digits: int = 0  # ... or a run of at least this many digits
    hint: Callable[[str], bool] | None = None  # ... or for which this cheap test says it might


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
    # a street in free text (a customer's words in a traceback, a summary): its type, its name, its number
    _Rule(_STREET, "<address>", hint=_may_hold_a_street),
    _Rule(re.compile(r"(?<![\w.])\d{5}-\d{3}(?![\w-])"), "<cep>", ("-",), digits=5),
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
        if rule.digits > longest or (rule.hint is not None and not rule.hint(text)):
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


# --- traces ------------------------------------------------------------------------------------------------------

# In a trace the words are the point (what the customer said, what the bot answered, which tool it called): those
# keys keep their text, masked like a log line; `name` is a tool's or a node's there unless it reads like a person's.
TRACE_DENY_KEYS: frozenset[str] = DENY_KEYS - {"name", "body", "text", "texts", "content", "replies", "input"}
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_.:-]*")


def _mask_traced(key: object, value: Any) -> Any:
    if isinstance(key, str) and value not in (None, "", [], {}):
        lowered = key.lower()
        if lowered == "name":
            if isinstance(value, str) and not _IDENTIFIER.fullmatch(value):
                return "***"
        elif lowered in TRACE_DENY_KEYS:
            return "***"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_traced(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_traced(None, v) for v in value]
    return value


def mask_trace(data: dict[str, Any]) -> dict[str, Any]:
    """A run's inputs, outputs, metadata or error (JSON) with personal data masked and its structure kept.

    Strings go through `mask_text` (phones, thread ids, e-mails, CPFs, streets, PIX codes); personal fields
    (`phone`, `email`, `cpf`, `street`, `pix_code`, a person's `name`...) become `***` whatever they hold.
    """
    return {k: _mask_traced(k, v) for k, v in data.items()}


_trace_client: Client | None = None


def mask_langsmith_traces() -> Client | None:
    """When LangSmith tracing is on, make the client LangChain's tracer sends runs with mask them; returns it.

    `langsmith.configure(client=...)` sets the process's client, the one every `LangChainTracer` made for
    `LANGSMITH_TRACING=true` sends through; its `anonymizer` sees every run's inputs, outputs, metadata (the thread
    id is a phone) and error before they leave the process. Idempotent; a new endpoint gets a new client.
    """
    global _trace_client
    import langsmith
    from langsmith import utils

    if not utils.tracing_is_enabled():
        return None
    if _trace_client is None or _trace_client.api_url != utils.get_api_url(None):
        _trace_client = langsmith.Client(anonymizer=mask_trace)
        langsmith.configure(client=_trace_client)
    return _trace_client
