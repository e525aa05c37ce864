"""A fake of the Asaas v3 API on loopback, built from Asaas's documented contract (see DESIGN, Sharp edges):

- the key travels in the `access_token` header; a missing or unknown one is 401 with `invalid_access_token`;
- creating a customer or a payment answers 200 (not 201) with the object;
- an unknown id is 404 with an empty body;
- errors are 400 `{"errors": [{"code", "description"}]}`; customers need `name` and `cpfCnpj`, payments
  `customer`, `billingType`, `value`, `dueDate`;
- lists are `{"object": "list", "hasMore", "totalCount", "limit", "offset", "data": [...]}`, filterable by
  `externalReference`;
- `GET /v3/payments/{id}/pixQrCode` gives `encodedImage`, `payload`, `expirationDate`;
- webhooks are POSTed with the account's token in `asaas-access-token`, as `{"id", "event", "dateCreated",
  "payment": {...}}`, and count as delivered only on 200.

Faults a test can ask for: the next N creates fail with 500, time out, or are "lost" (the charge is made, but the
answer is a 500, as when a response is lost on the way).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse


def _error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "description": description}]}, status_code=status)


@dataclass
class Faults:
    """Faults for the next payment creations, consumed in order."""

    fail_500: int = 0
    timeout: int = 0
    lose_response: int = 0
    delay_s: float = 30.0


@dataclass
class FakeAsaas:
    """The accounts (API key → account), their customers and payments, and the calls made."""

    keys: set[str] = field(default_factory=set)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    calls: list[tuple[str, str]] = field(default_factory=list)
    base_url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def payments_for(self, external_reference: str) -> list[dict[str, Any]]:
        """Every charge made for an externalReference (deleted ones too)."""
        return [p for p in self.payments.values() if p.get("externalReference") == external_reference]

    def create_calls(self) -> int:
        """How many payment creations reached us."""
        return sum(1 for method, path in self.calls if method == "POST" and path == "/v3/payments")

    async def fire(
        self,
        webhook_url: str,
        token: str | bytes | None,
        event: str,
        payment_id: str,
        *,
        event_id: str | None = None,
        value: float | None = None,
    ) -> httpx.Response:
        """POST a webhook as Asaas does, with the payment as it is now (its value overridable)."""
        payment = dict(self.payments[payment_id])
        if value is not None:
            payment["value"] = value
        body = {
            "id": event_id or f"evt_{uuid.uuid4().hex}&{next(self._ids)}",
            "event": event,
            "dateCreated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "payment": payment,
        }
        headers: dict[bytes, bytes] = {b"Content-Type": b"application/json"}
        if token is not None:
            headers[b"asaas-access-token"] = token if isinstance(token, bytes) else token.encode()
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(webhook_url, content=json.dumps(body), headers=headers)

    def set_status(self, payment_id: str, status: str) -> None:
        """What the payer (or the account's owner) did: RECEIVED, CONFIRMED, OVERDUE, REFUNDED."""
        self.payments[payment_id]["status"] = status
        if status in ("RECEIVED", "CONFIRMED"):
            self.payments[payment_id]["paymentDate"] = date.today().isoformat()


def asaas_app(fake: FakeAsaas) -> FastAPI:
    """The fake's HTTP API under /v3."""
    app = FastAPI()

    @app.middleware("http")
    async def auth(request: Request, call_next: Any) -> Response:
        fake.calls.append((request.method, request.url.path))
        if request.headers.get("access_token") not in fake.keys:
            return _error(401, "invalid_access_token", "A chave de API informada não pertence a este ambiente")
        response: Response = await call_next(request)
        return response

    def page(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
        offset = int(request.query_params.get("offset", 0))
        limit = min(int(request.query_params.get("limit", 10)), 100)
        chunk = items[offset : offset + limit]
        return {
            "object": "list",
            "hasMore": offset + limit < len(items),
            "totalCount": len(items),
            "limit": limit,
            "offset": offset,
            "data": chunk,
        }

    @app.get("/v3/customers")
    async def list_customers(request: Request) -> dict[str, Any]:
        ref = request.query_params.get("externalReference")
        items = [c for c in fake.customers.values() if ref is None or c.get("externalReference") == ref]
        return page(items, request)

    @app.post("/v3/customers")
    async def create_customer(request: Request) -> Response:
        body = await request.json()
        if not body.get("name"):
            return _error(400, "invalid_name", "O nome do cliente deve ser informado.")
        cpf = "".join(ch for ch in str(body.get("cpfCnpj") or "") if ch.isdigit())
        if len(cpf) not in (11, 14):
            return _error(400, "invalid_cpfCnpj", "O CPF/CNPJ informado é inválido.")
        customer = {
            "object": "customer",
            "id": f"cus_{uuid.uuid4().hex[:12]}",
            "dateCreated": date.today().isoformat(),
            "name": body["name"],
            "cpfCnpj": cpf,
            "mobilePhone": body.get("mobilePhone"),
            "externalReference": body.get("externalReference"),
            "notificationDisabled": bool(body.get("notificationDisabled", False)),
            "deleted": False,
        }
        fake.customers[customer["id"]] = customer
        return JSONResponse(customer, status_code=200)

    @app.get("/v3/payments")
    async def list_payments(request: Request) -> dict[str, Any]:
        ref = request.query_params.get("externalReference")
        items = [
            p for p in fake.payments.values() if not p["deleted"] and (ref is None or p.get("externalReference") == ref)
        ]
        return page(items, request)

    @app.post("/v3/payments")
    async def create_payment(request: Request) -> Response:
        body = await request.json()
        for name in ("customer", "billingType", "value", "dueDate"):
            if body.get(name) in (None, ""):
                return _error(400, f"invalid_{name}", f"O campo {name} deve ser informado.")
        if body["customer"] not in fake.customers:
            return _error(400, "invalid_customer", "Cliente inexistente.")
        if body["billingType"] not in ("PIX", "CREDIT_CARD", "BOLETO", "UNDEFINED"):
            return _error(400, "invalid_billingType", "Forma de pagamento inválida.")
        faults = fake.faults
        if faults.fail_500:
            faults.fail_500 -= 1
            return Response(status_code=500)
        if faults.timeout:
            faults.timeout -= 1
            await asyncio.sleep(faults.delay_s)
        number = next(fake._ids)
        payment = {
            "object": "payment",
            "id": f"pay_{number:012d}",
            "dateCreated": date.today().isoformat(),
            "customer": body["customer"],
            "value": float(body["value"]),
            "netValue": round(float(body["value"]) * 0.99, 2),
            "billingType": body["billingType"],
            "status": "PENDING",
            "dueDate": body["dueDate"],
            "description": body.get("description"),
            "externalReference": body.get("externalReference"),
            "invoiceUrl": f"{fake.base_url}/i/{number}",
            "deleted": False,
        }
        fake.payments[payment["id"]] = payment
        if faults.lose_response:
            faults.lose_response -= 1
            return Response(status_code=500)  # made, but the answer never arrives
        return JSONResponse(payment, status_code=200)

    @app.get("/v3/payments/{payment_id}")
    async def get_payment(payment_id: str) -> Response:
        payment = fake.payments.get(payment_id)
        if payment is None:
            return Response(status_code=404)
        return JSONResponse(payment)

    @app.delete("/v3/payments/{payment_id}")
    async def delete_payment(payment_id: str) -> Response:
        payment = fake.payments.get(payment_id)
        if payment is None or payment["deleted"]:
            return Response(status_code=404)
        if payment["status"] not in ("PENDING", "OVERDUE"):
            return _error(400, "invalid_action", "Somente cobranças pendentes ou vencidas podem ser removidas.")
        payment["deleted"] = True
        return JSONResponse({"deleted": True, "id": payment_id})

    @app.get("/v3/payments/{payment_id}/pixQrCode")
    async def pix_qr(payment_id: str) -> Response:
        payment = fake.payments.get(payment_id)
        if payment is None:
            return Response(status_code=404)
        if payment["billingType"] != "PIX":
            return _error(400, "invalid_billingType", "Esta cobrança não é Pix.")
        payload = f"00020101021226820014br.gov.bcb.pix2560pix.asaas.com/qr/{payment_id}5204000053039865802BR6304ABCD"
        expires = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%d %H:%M:%S")
        image = base64.b64encode(b"\x89PNG fake qr for " + payment_id.encode()).decode()
        return JSONResponse({"encodedImage": image, "payload": payload, "expirationDate": expires})

    return app
