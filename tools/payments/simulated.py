"""The embedded payment provider: a signed pay page of our own and a signed webhook, no third party involved."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from urllib.parse import quote

from tools.payments.pix import brcode
from tools.payments.provider import PaymentRequest, PaymentStart

PROVIDER = "simulated"
SIGNATURE_HEADER = "X-Comanda-Signature"
WEBHOOK_PATH = f"/webhooks/payments/{PROVIDER}"


def page_signature(secret: bytes, provider_ref: str) -> str:
    """The `sig` of a pay page URL, so nobody can open (or pay) a page whose link they weren't sent."""
    # a domain prefix keeps a page signature from ever doubling as a webhook body signature
    return hmac.new(secret, f"pay-page:{provider_ref}".encode(), hashlib.sha256).hexdigest()[:32]


def page_signature_ok(secret: bytes, provider_ref: str, sig: str) -> bool:
    """Constant-time check of a pay page `sig` (False for anything that isn't it, whatever its characters)."""
    return _same(page_signature(secret, provider_ref), sig)


def webhook_signature(secret: bytes, body: bytes) -> str:
    """The `X-Comanda-Signature` header value for a webhook body: `sha256=<hex HMAC>`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def webhook_signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of a webhook's `X-Comanda-Signature` against its raw body."""
    return header is not None and _same(webhook_signature(secret, body), header)


def _same(expected: str, given: str) -> bool:
    # compare_digest raises TypeError on a str that isn't ASCII (a forged `%FF`); as bytes anything just differs
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def pay_path(secret: bytes, provider_ref: str) -> str:
    """`/pay/{ref}?sig=...`, the pay page path relative to the public base URL."""
    return f"/pay/{quote(provider_ref)}?sig={page_signature(secret, provider_ref)}"


class SimulatedPayments:
    """A PaymentProvider whose pay page lives in our own server and fires a real, signed webhook."""

    name = PROVIDER

    def __init__(self, public_base_url: str, secret: bytes, *, needs_cpf: bool = False) -> None:
        self.public_base_url = public_base_url.rstrip("/")
        self.secret = secret
        # play a provider that charges only with the payer's CPF, as Asaas does: the conversation asks for it once
        self.needs_cpf = needs_cpf
        # a stable random-looking EVP key per secret: the same "merchant" across restarts
        digest = hmac.new(secret, b"pix-key", hashlib.sha256).digest()
        self.pix_key = str(uuid.UUID(bytes=digest[:16], version=4))

    async def start(self, request: PaymentRequest) -> PaymentStart:
        """A new payment reference, its signed pay page and, for PIX, a copy-and-paste BR Code."""
        ref = uuid.uuid4().hex
        pix_code = None
        if request.method == "pix":
            pix_code = brcode(self.pix_key, request.amount, request.merchant_name, request.merchant_city, ref[:25])
        return PaymentStart(
            provider=PROVIDER,
            provider_ref=ref,
            pix_code=pix_code,
            pay_url=self.public_base_url + pay_path(self.secret, ref),
        )
