"""The simulated provider's pay page and the signed webhook that settles its payments."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from string import Template
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Form, Header, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, ValidationError

from memory.db import Pool
from memory.repos import payments as payments_repo
from memory.repos import tenants as tenants_repo
from memory.repos.payments import Payment
from memory.repos.tenants import Tenant
from server.channels import OutboundChannel
from server.errors import describe_errors, refusals
from tools.money import format_brl, to_cents
from tools.orders import lifecycle
from tools.payments.settlement import Outcome, settle_paid
from tools.payments.simulated import (
    PROVIDER,
    SIGNATURE_HEADER,
    WEBHOOK_PATH,
    page_signature_ok,
    pay_path,
    webhook_signature,
    webhook_signature_ok,
)

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class PaymentDeps:
    """What the payment routes need, handed in by the composition root."""

    pool: Pool
    channel: OutboundChannel
    secret: bytes
    public_base_url: str
    http: httpx.AsyncClient | None = None
    clock: Callable[[], datetime] = _utcnow


# Our references are uuid4 hex; this leaves room for others while keeping NUL bytes (which Postgres refuses in text),
# spaces and path tricks out of queries and URLs.
REF_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# a signature is 32 hex characters; anything much longer is not worth hashing to find out it's wrong
SIG_MAX = 128


class SimulatedPaymentEvent(BaseModel):
    """The simulated provider's webhook body."""

    event: Literal["PAYMENT_RECEIVED"]
    payment_ref: str = Field(pattern=REF_PATTERN)
    # rounded to centavos here, so NaN, infinities and 1e30 are refused naming the field
    amount: Annotated[Decimal, AfterValidator(to_cents)]
    paid_at: AwareDatetime


class WebhookAck(BaseModel):
    """The webhook's answer: this delivery settled the payment, it was already settled, or the order could no
    longer be paid (cancelled before the money came) and is flagged for staff to refund."""

    status: Outcome
    order_id: int


RefPath = Annotated[str, Path(pattern=REF_PATTERN, description="The payment's reference at the provider")]


def payments_router(deps: PaymentDeps) -> APIRouter:
    """The pay page (`GET/POST /pay/{ref}`) and the simulated provider's webhook."""
    router = APIRouter(tags=["payments"])

    @router.get(
        "/pay/{ref}",
        response_class=HTMLResponse,
        responses=refusals(
            {
                400: "`ref` or `sig` is malformed",
                403: "The link isn't one we sent (wrong or missing `sig`)",
                404: "No payment has this reference",
            }
        ),
    )
    async def pay_page(ref: RefPath, sig: Annotated[str, Query(max_length=SIG_MAX)] = "") -> HTMLResponse:
        """The payment page a customer opens from the link the bot sent."""
        tenant, payment = await _signed_payment(deps, ref, sig)
        return HTMLResponse(_render_page(tenant, payment, sig))

    @router.post(
        "/pay/{ref}",
        response_class=RedirectResponse,
        status_code=303,
        responses={
            303: {"description": "Paid (or already paid): back to the pay page"},
            **refusals(
                {
                    400: "`ref` or `sig` is malformed",
                    403: "The form isn't one we sent (wrong or missing `sig`)",
                    404: "No payment has this reference",
                    502: "The provider's webhook could not be delivered; nothing was paid",
                }
            ),
        },
    )
    async def pay(ref: RefPath, sig: Annotated[str, Form(max_length=SIG_MAX)] = "") -> RedirectResponse:
        """Pay: the provider tells our webhook, over HTTP, that the money arrived; then back to the page."""
        _, payment = await _signed_payment(deps, ref, sig)
        if payment.status != "paid":
            await _fire_webhook(deps, payment)
        return RedirectResponse(pay_path(deps.secret, ref), status_code=303)

    @router.post(
        WEBHOOK_PATH,
        response_model=WebhookAck,
        responses=refusals(
            {
                400: "The body is not a payment event; `detail` names the field",
                403: f"`{SIGNATURE_HEADER}` is missing or doesn't sign this body",
                404: "No payment has this `payment_ref`",
            }
        ),
        # the body is read raw (the signature covers its bytes), so FastAPI can't see it: say what it is
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SimulatedPaymentEvent.model_json_schema()}},
            }
        },
    )
    async def simulated_webhook(
        request: Request,
        signature: Annotated[
            str | None, Header(alias=SIGNATURE_HEADER, description="`sha256=` + HMAC-SHA256 of the body, hex")
        ] = None,
    ) -> WebhookAck:
        """Settle a payment: signed by the provider, amount checked, idempotent under repeats."""
        body = await request.body()
        if not webhook_signature_ok(deps.secret, body, signature):
            raise HTTPException(403, "missing or invalid signature")
        event = _parse_event(body)
        return await _settle(deps, event)

    return router


async def _signed_payment(deps: PaymentDeps, ref: str, sig: str) -> tuple[Tenant, Payment]:
    # the signature is checked before the lookup, so a forged link can't even learn whether a ref exists
    if not sig or not page_signature_ok(deps.secret, ref, sig):
        raise HTTPException(403, "invalid payment link")
    async with deps.pool.connection() as conn:
        payment = await payments_repo.by_provider_ref(conn, PROVIDER, ref)
        tenant = await tenants_repo.by_id(conn, payment.tenant_id) if payment else None
    if payment is None or tenant is None:
        raise HTTPException(404, "unknown payment")
    return tenant, payment


async def _fire_webhook(deps: PaymentDeps, payment: Payment) -> None:
    body = json.dumps(
        {
            "event": "PAYMENT_RECEIVED",
            "payment_ref": payment.provider_ref,
            "amount": str(payment.amount),
            "paid_at": deps.clock().isoformat(),
        }
    ).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: webhook_signature(deps.secret, body)}
    url = deps.public_base_url.rstrip("/") + WEBHOOK_PATH
    try:
        if deps.http is not None:
            response = await deps.http.post(url, content=body, headers=headers)
        else:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("simulated payment webhook to %s failed: %s", url, exc)
        raise HTTPException(502, "the payment webhook could not be delivered") from exc
    if response.status_code != 200:
        log.warning("simulated payment webhook answered %s: %s", response.status_code, response.text[:200])
        raise HTTPException(502, f"the payment webhook answered {response.status_code}")


def _parse_event(body: bytes) -> SimulatedPaymentEvent:
    try:
        # integers as Decimal too: an amount of 5,000 digits is a wrong amount, not int()'s digit limit
        data = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except RecursionError as exc:
        raise HTTPException(400, "body is nested too deeply to be a payment event") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise HTTPException(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HTTPException(400, "body must be a JSON object")
    try:
        return SimulatedPaymentEvent.model_validate(data)
    except ValidationError as exc:
        raise HTTPException(400, describe_errors(exc.errors())) from exc


async def _settle(deps: PaymentDeps, event: SimulatedPaymentEvent) -> WebhookAck:
    async with deps.pool.connection() as conn:
        payment = await payments_repo.by_provider_ref(conn, PROVIDER, event.payment_ref)
        if payment is None:
            raise HTTPException(404, f"unknown payment_ref {event.payment_ref}")
        if to_cents(event.amount) != payment.amount:
            raise HTTPException(400, f"amount {event.amount} does not match the payment's {payment.amount}")
        # the one state machine moves the order, as for Asaas: history, outbox event, the customer's message
        async with conn.transaction():
            settled = await settle_paid(conn, payment, actor=PROVIDER, paid_at=event.paid_at)
    if settled.outcome == "flagged":
        log.warning("order %s was paid while %s: flagged for a refund", payment.order_id, settled.order_status)
    if settled.moved is not None:
        # after the commit: the payment stands even if the message can't go out now (the jobs worker retries)
        await lifecycle.tell_after(deps.pool, deps.channel, settled.moved)
    return WebhookAck(status=settled.outcome, order_id=payment.order_id)


# The pay page imitates a provider's checkout screen; its labels are the provider's, not the bot's sentences.
_LABELS: dict[str, dict[str, str]] = {
    "pt-BR": {
        "title": "Pagamento",
        "order": "Pedido",
        "method": "Forma de pagamento",
        "pix": "PIX",
        "card": "Cartão",
        "cash": "Dinheiro",
        "pix_code": "PIX copia e cola",
        "copy": "Copiar código",
        "copied": "Copiado!",
        "pay": "Pagar",
        "paid": "Pago ✓",
        "pending": "Aguardando pagamento",
        "note": "Pagamento simulado: nenhum valor real é cobrado.",
    },
    "en": {
        "title": "Payment",
        "order": "Order",
        "method": "Payment method",
        "pix": "PIX",
        "card": "Card",
        "cash": "Cash",
        "pix_code": "PIX copy and paste",
        "copy": "Copy code",
        "copied": "Copied!",
        "pay": "Pay",
        "paid": "Paid ✓",
        "pending": "Awaiting payment",
        "note": "Simulated payment: no real money is charged.",
    },
}

_PAGE = Template("""<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · $restaurant</title>
<style>
  :root { --green: #0f9d58; --ink: #1c2430; --muted: #6b7685; --line: #e6e9ee; }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
         background: linear-gradient(160deg, #eef7f1, #f6f7fb); color: var(--ink);
         font: 16px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
  main { width: 100%; max-width: 420px; margin: 16px; background: #fff; border-radius: 18px;
         box-shadow: 0 10px 30px rgba(20, 40, 60, .12); overflow: hidden; }
  header { padding: 20px 22px; background: var(--ink); color: #fff; }
  header h1 { margin: 0; font-size: 1.15rem; font-weight: 600; }
  header p { margin: 2px 0 0; color: #c9d1db; font-size: .9rem; }
  section { padding: 22px; }
  .amount { font-size: 2.3rem; font-weight: 700; letter-spacing: -.5px; margin: 0 0 4px; }
  .row { display: flex; justify-content: space-between; padding: 10px 0; border-top: 1px solid var(--line);
         color: var(--muted); font-size: .95rem; }
  .row b { color: var(--ink); font-weight: 600; }
  .status { display: inline-block; margin: 6px 0 14px; padding: 4px 10px; border-radius: 999px;
            font-size: .85rem; background: #fff4e0; color: #8a5a00; }
  .status.paid { background: #e3f6eb; color: var(--green); font-weight: 700; font-size: 1rem; }
  label { display: block; margin: 16px 0 6px; font-size: .85rem; color: var(--muted); }
  textarea { width: 100%; height: 96px; resize: none; padding: 10px; border: 1px solid var(--line);
             border-radius: 10px; font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; color: var(--ink);
             background: #fafbfc; word-break: break-all; }
  button { width: 100%; padding: 14px; border: 0; border-radius: 12px; font-size: 1rem; font-weight: 600;
           cursor: pointer; }
  .copy { margin-top: 8px; background: #eef1f5; color: var(--ink); }
  .pay { margin-top: 20px; background: var(--green); color: #fff; }
  .pay:active, .copy:active { transform: translateY(1px); }
  footer { padding: 0 22px 18px; color: var(--muted); font-size: .78rem; text-align: center; }
</style>
</head>
<body>
<main>
  <header><h1>$restaurant</h1><p>$order_label #$order_id</p></header>
  <section>
    <p class="amount">$amount</p>
    <span class="status$status_class">$status</span>
    <div class="row"><span>$method_label</span><b>$method</b></div>
    $pix_block
    $pay_block
  </section>
  <footer>$note</footer>
</main>
</body>
</html>
""")

_PIX_BLOCK = Template("""<label for="pix">$pix_label</label>
    <textarea id="pix" readonly>$code</textarea>
    <button type="button" class="copy" data-done="$copied"
      onclick="var t=document.getElementById('pix');t.select();
               (navigator.clipboard?navigator.clipboard.writeText(t.value):Promise.resolve(document.execCommand('copy')))
               .then(()=>{this.textContent=this.dataset.done;});">$copy</button>""")

_PAY_BLOCK = Template("""<form method="post" action="/pay/$ref">
      <input type="hidden" name="sig" value="$sig">
      <button type="submit" class="pay">$pay $amount</button>
    </form>""")


def _render_page(tenant: Tenant, payment: Payment, sig: str) -> str:
    locale = tenant.locale if tenant.locale in _LABELS else "pt-BR"
    t = {k: escape(v) for k, v in _LABELS[locale].items()}
    amount = escape(format_brl(payment.amount, locale))
    paid = payment.status == "paid"
    pix_block = ""
    if payment.pix_code and not paid:
        pix_block = _PIX_BLOCK.substitute(
            pix_label=t["pix_code"], code=escape(payment.pix_code), copy=t["copy"], copied=t["copied"]
        )
    pay_block = (
        ""
        if paid
        else _PAY_BLOCK.substitute(ref=escape(payment.provider_ref), sig=escape(sig), pay=t["pay"], amount=amount)
    )
    return _PAGE.substitute(
        lang=locale,
        title=t["title"],
        restaurant=escape(tenant.name),
        order_label=t["order"],
        order_id=payment.order_id,
        amount=amount,
        status=t["paid"] if paid else t["pending"],
        status_class=" paid" if paid else "",
        method_label=t["method"],
        method=t.get(payment.method, escape(payment.method)),
        pix_block=pix_block,
        pay_block=pay_block,
        note=t["note"],
    )
