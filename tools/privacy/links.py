"""Signed, expiring links to a customer's data export (HMAC like the media URLs, plus an expiry)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

EXPORT_TTL_S = 24 * 3600


class ExportGrant(BaseModel):
    """Whose export a link opens, and until when."""

    model_config = ConfigDict(frozen=True)

    tenant_id: int
    customer_id: int
    expires: int  # unix seconds


class ExportLinks:
    """Issues and checks `/privacy/export/{grant}?s={signature}` links; the grant names the customer by id, never
    by phone."""

    def __init__(self, secret: bytes, public_base_url: str, ttl_s: int = EXPORT_TTL_S) -> None:
        self.secret = secret
        self.base = public_base_url.rstrip("/")
        self.ttl_s = ttl_s

    def _sig(self, payload: str) -> str:
        return hmac.new(self.secret, b"lgpd-export:" + payload.encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, tenant_id: int, customer_id: int, now: datetime) -> str:
        """A link valid for `ttl_s` from `now`."""
        grant = ExportGrant(tenant_id=tenant_id, customer_id=customer_id, expires=int(now.timestamp()) + self.ttl_s)
        payload = base64.urlsafe_b64encode(grant.model_dump_json().encode()).decode().rstrip("=")
        return f"{self.base}/privacy/export/{payload}?{urlencode({'s': self._sig(payload)})}"

    def verify(self, payload: str, sig: str, now: datetime) -> ExportGrant | None:
        """The grant a link's payload carries, or None when it wasn't signed by us or has expired."""
        if not hmac.compare_digest(self._sig(payload).encode(), sig.encode("utf-8", "replace")):
            return None
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            grant = ExportGrant.model_validate(json.loads(raw))
        except (ValueError, ValidationError):
            return None
        return grant if grant.expires > now.timestamp() else None
