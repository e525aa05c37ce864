"""Images we serve to Twilio from signed URLs: the PIX QR code a customer scans to pay."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, HTTPException, Query, Response

from server.errors import refusals


class MediaSigner:
    """Signs and checks media URLs, so only codes we issued become images on our domain."""

    def __init__(self, secret: bytes, public_base_url: str) -> None:
        self.secret = secret
        self.base = public_base_url.rstrip("/")

    def _sig(self, code: str) -> str:
        return hmac.new(self.secret, b"pix-qr:" + code.encode(), hashlib.sha256).hexdigest()[:32]

    def pix_qr_url(self, pix_code: str) -> str:
        """A public URL of the QR image of a PIX "copia e cola" code."""
        c = base64.urlsafe_b64encode(pix_code.encode()).decode().rstrip("=")
        return f"{self.base}/media/pix.png?{urlencode({'c': c, 's': self._sig(pix_code)})}"

    def verify(self, c: str, s: str) -> str | None:
        """The PIX code in a media URL, or None if the URL wasn't signed by us."""
        try:
            code = base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        # bytes, not str: compare_digest raises TypeError on a str that isn't ASCII (a forged `s=%C3%A9`)
        return code if hmac.compare_digest(self._sig(code).encode(), s.encode("utf-8", "replace")) else None


def media_router(signer: MediaSigner) -> APIRouter:
    """`GET /media/pix.png`: the QR code image for a signed PIX code."""
    router = APIRouter(prefix="/media", tags=["media"])

    @router.get(
        "/pix.png",
        response_class=Response,
        summary="PIX QR code image (signed URL)",
        responses={
            200: {"content": {"image/png": {}}, "description": "The QR code"},
            **refusals({400: "`c` or `s` is missing or too long", 403: "The URL wasn't signed by us"}),
        },
    )
    async def pix_png(c: str = Query(max_length=2000), s: str = Query(max_length=64)) -> Response:
        code = signer.verify(c, s)
        if code is None:
            raise HTTPException(403, "invalid media signature")
        out = io.BytesIO()
        segno.make(code, error="m").save(out, kind="png", scale=8, border=4)
        return Response(out.getvalue(), media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})

    return router
