"""Asaas (v3) behind our PaymentProvider: each restaurant's own account, one charge per order and method.

The key travels in the `access_token` header. A charge's `externalReference` is our order id, so a create whose
answer was lost (a timeout, a 5xx, a crash before we saved it) is found again before anything is created twice:
every attempt first looks the order's charges up, and creates only when there is none. Timeouts and 5xx are
retried with backoff; if Asaas stays down, `AsaasUnavailable` lets checkout offer cash or a later retry.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from memory.db import Pool
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from memory.repos.payments import Payment
from tools.payments.keys import KeyBox
from tools.payments.provider import PaymentRequest, PaymentStart

log = logging.getLogger(__name__)

PROVIDER = "asaas"
SANDBOX_URL = "https://api-sandbox.asaas.com/v3"
PRODUCTION_URL = "https://api.asaas.com/v3"
USER_AGENT = "comanda"
BillingType = Literal["PIX", "CREDIT_CARD"]


class AsaasError(Exception):
    """Asaas refused a request (4xx): `errors` are its [{code, description}]."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        codes = ", ".join(f"{e.get('code')}: {e.get('description')}" for e in errors) or "no details"
        super().__init__(f"Asaas answered {status} ({codes})")
        self.status = status
        self.errors = errors


class AsaasUnavailable(Exception):
    """Asaas timed out or failed (5xx) on every attempt: nothing can be charged right now."""


class NotConfigured(Exception):
    """The restaurant has no Asaas account set (`comanda tenants payments`)."""


class AsaasAccount(BaseModel):
    """A restaurant's Asaas account as used at run time (secrets unsealed, never logged)."""

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr
    webhook_token: SecretStr
    sandbox: bool = True


class AsaasClient:
    """The few Asaas endpoints we use, over httpx."""

    def __init__(self, base_url: str, api_key: SecretStr, http: httpx.AsyncClient, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.http = http
        self.timeout = timeout

    async def request(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, params: dict[str, str] | None = None
    ) -> Any:
        """One call; 4xx raise AsaasError, 5xx and timeouts raise httpx errors (the caller decides to retry)."""
        response = await self.http.request(
            method,
            self.base_url + path,
            json=body,
            params=params,
            headers={"access_token": self._key.get_secret_value(), "User-Agent": USER_AGENT},
            timeout=self.timeout,
        )
        if response.status_code >= 500:
            raise httpx.HTTPStatusError(
                f"Asaas answered {response.status_code}", request=response.request, response=response
            )
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            try:
                errors = response.json().get("errors", [])
            except ValueError:
                errors = []
            raise AsaasError(response.status_code, errors)
        return response.json()

    async def find(self, path: str, external_reference: str) -> list[dict[str, Any]]:
        """The objects under `path` with this externalReference."""
        found = await self.request("GET", path, params={"externalReference": external_reference, "limit": "100"})
        return list((found or {}).get("data", []))


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | httpx.HTTPStatusError)


class AsaasPayments:
    """A PaymentProvider over each restaurant's own Asaas account (tenants.asaas_settings)."""

    name = PROVIDER
    # Asaas can't charge without the payer's CPF: checkout asks for it once
    needs_cpf = True

    def __init__(
        self,
        pool: Pool,
        keys: KeyBox,
        *,
        base_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        attempts: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
    ) -> None:
        self.pool = pool
        self.keys = keys
        self.base_url = base_url
        self.http = http or httpx.AsyncClient()
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    async def account(self, tenant_id: int) -> AsaasAccount:
        """The restaurant's account, secrets unsealed."""
        async with self.pool.connection() as conn:
            doc = await payment_repo.provider_settings(conn, tenant_id)
        if doc.get("provider") != PROVIDER or not doc.get("api_key"):
            raise NotConfigured(f"tenant {tenant_id} has no Asaas account (comanda tenants payments)")
        return AsaasAccount(
            api_key=SecretStr(self.keys.open(doc["api_key"])),
            webhook_token=SecretStr(self.keys.open(doc["webhook_token"])),
            sandbox=bool(doc.get("sandbox", True)),
        )

    async def client(self, tenant_id: int) -> AsaasClient:
        """A client on the restaurant's account."""
        account = await self.account(tenant_id)
        url = self.base_url or (SANDBOX_URL if account.sandbox else PRODUCTION_URL)
        return AsaasClient(url, account.api_key, self.http, timeout=self.timeout_s)

    async def _retrying(self, what: str, call: Any) -> Any:
        for attempt in range(self.attempts):
            try:
                return await call()
            except Exception as exc:
                if not _transient(exc):
                    raise
                log.warning(
                    "Asaas %s failed (attempt %d of %d): %s", what, attempt + 1, self.attempts, type(exc).__name__
                )
                if attempt + 1 < self.attempts:
                    await asyncio.sleep(self.backoff_s * 2**attempt)
        raise AsaasUnavailable(f"Asaas {what} failed {self.attempts} times")

    async def start(self, request: PaymentRequest) -> PaymentStart:
        """The order's charge (found again, or created once) and how to pay it: PIX payload or card invoice link."""
        client = await self.client(request.tenant_id)
        customer = await self._customer(client, request)
        billing: BillingType = "PIX" if request.method == "pix" else "CREDIT_CARD"
        ref = str(request.order_id)

        async def charge() -> dict[str, Any]:
            # look first: the charge may exist from an attempt whose answer we never got
            for found in await client.find("/payments", ref):
                if found.get("billingType") == billing and not found.get("deleted"):
                    return found
            tenant = await self._tenant(request.tenant_id)
            today = datetime.now(ZoneInfo(tenant.timezone)).date().isoformat()
            created = await client.request(
                "POST",
                "/payments",
                body={
                    "customer": customer,
                    "billingType": billing,
                    "value": float(request.amount),
                    "dueDate": today,
                    "description": request.description,
                    "externalReference": ref,
                },
            )
            assert isinstance(created, dict)
            return created

        payment = await self._retrying("charge", charge)
        pix_code = None
        if billing == "PIX":
            qr = await self._retrying(
                "PIX QR code", lambda: client.request("GET", f"/payments/{payment['id']}/pixQrCode")
            )
            pix_code = (qr or {}).get("payload")
        return PaymentStart(
            provider=PROVIDER, provider_ref=payment["id"], pix_code=pix_code, pay_url=payment.get("invoiceUrl")
        )

    async def cancel(self, payment: Payment) -> None:
        """Withdraw a pending charge (the order was cancelled or expired), so nobody pays it."""
        if payment.provider != PROVIDER:
            return
        client = await self.client(payment.tenant_id)
        try:
            await self._retrying("delete", lambda: client.request("DELETE", f"/payments/{payment.provider_ref}"))
        except AsaasError as exc:
            # already paid or gone: a payment that still arrives is flagged by the webhook for a refund
            log.warning("Asaas kept charge %s: %s", payment.provider_ref, exc)

    async def _tenant(self, tenant_id: int) -> tenant_repo.Tenant:
        async with self.pool.connection() as conn:
            tenant = await tenant_repo.by_id(conn, tenant_id)
        assert tenant is not None
        return tenant

    async def _customer(self, client: AsaasClient, request: PaymentRequest) -> str:
        """The restaurant's Asaas customer for ours: remembered, found by externalReference, or created."""
        if request.customer_id is None or not request.customer_cpf:
            raise AsaasError(400, [{"code": "invalid_cpfCnpj", "description": "the customer's CPF is needed"}])
        async with self.pool.connection() as conn:
            known = await payment_repo.provider_customer(conn, request.tenant_id, request.customer_id, PROVIDER)
        if known is not None:
            return known
        ref = str(request.customer_id)

        async def find_or_create() -> str:
            for found in await client.find("/customers", ref):
                if not found.get("deleted"):
                    return str(found["id"])
            created = await client.request(
                "POST",
                "/customers",
                body={
                    "name": request.customer_name or request.customer_phone,
                    "cpfCnpj": request.customer_cpf,
                    "mobilePhone": _national(request.customer_phone),
                    "externalReference": ref,
                    # the restaurant talks to its customers on WhatsApp; Asaas's e-mails and SMS would be noise
                    "notificationDisabled": True,
                },
            )
            return str(created["id"])

        customer_id: str = await self._retrying("customer", find_or_create)
        async with self.pool.connection() as conn:
            await payment_repo.remember_provider_customer(
                conn, request.tenant_id, request.customer_id, PROVIDER, customer_id
            )
        return customer_id


def _national(phone: str) -> str:
    """+5511987654321 → 11987654321 (Asaas wants Brazilian numbers without the country code)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[2:] if digits.startswith("55") and len(digits) > 11 else digits
