"""The FastAPI application: thin routes over the resources the composition root hands in."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from redis.asyncio import Redis

from memory.db import Pool
from server import health
from server.media import MediaSigner, media_router
from server.payments import PaymentDeps, payments_router
from server.twilio_webhook import TwilioWebhookDeps, twilio_router


@dataclass
class Resources:
    """What the routes need, opened and closed by the caller (`comanda serve`, tests)."""

    pool: Pool
    redis: Redis
    payments: PaymentDeps | None = None
    twilio: TwilioWebhookDeps | None = None
    media: MediaSigner | None = None


def create_app(resources: Resources) -> FastAPI:
    """Build the app around already-open resources."""
    app = FastAPI(
        title="Comanda",
        summary="WhatsApp ordering agent for restaurants",
        version="0.1.0",
    )
    app.state.resources = resources
    app.include_router(health.router)
    if resources.payments is not None:
        app.include_router(payments_router(resources.payments))
    if resources.twilio is not None:
        app.include_router(twilio_router(resources.twilio))
    if resources.media is not None:
        app.include_router(media_router(resources.media))
    return app
