"""`GET /privacy/export/{grant}?s=…`: a customer's copy of their data (LGPD), behind a signed, expiring link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse

from memory.db import Pool
from server.errors import refusals
from tools.privacy.links import ExportLinks
from tools.privacy.service import export_by_grant


def _now() -> datetime:
    return datetime.now(UTC)


def privacy_router(pool: Pool, links: ExportLinks, clock: Callable[[], datetime] = _now) -> APIRouter:
    """The export download; the document is built when the link is opened, so it holds the data as it is then."""
    router = APIRouter(prefix="/privacy", tags=["privacy"])

    @router.get(
        "/export/{grant}",
        summary="A customer's data export (signed, expiring link sent by WhatsApp)",
        responses=refusals(
            {
                400: "`grant` is malformed, or `s` is missing or too long",
                403: "The link wasn't signed by us or has expired",
                404: "The customer's data was erased since",
            }
        ),
    )
    async def export(
        grant: str = Path(max_length=400, pattern=r"^[A-Za-z0-9_-]+$"), s: str = Query(max_length=64)
    ) -> JSONResponse:
        found = links.verify(grant, s, clock())
        if found is None:
            raise HTTPException(403, "invalid or expired link")
        document: dict[str, Any] | None = await export_by_grant(pool, found.tenant_id, found.customer_id)
        if document is None:
            raise HTTPException(404, "no data held for this customer")
        # personal data: never cached by a proxy, never kept by the browser
        headers = {"Cache-Control": "no-store", "Content-Disposition": 'attachment; filename="meus-dados.json"'}
        return JSONResponse(document, headers=headers)

    return router
