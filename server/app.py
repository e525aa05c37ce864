"""The FastAPI application: thin routes over the resources the composition root hands in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.asyncio import Redis
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from memory.db import Pool
from server import health
from server.asaas_webhook import AsaasWebhookDeps, asaas_router
from server.console.deps import ConsoleDeps
from server.console.routes import mount_console
from server.errors import ERROR_SCHEMA_REF, ErrorBody, describe_errors, refusals
from server.media import MediaSigner, media_router
from server.metrics import metrics_router
from server.payments import PaymentDeps, payments_router
from server.privacy import privacy_router
from server.twilio_webhook import TwilioWebhookDeps, twilio_router
from tools.privacy.links import ExportLinks


@dataclass
class Resources:
    """What the routes need, opened and closed by the caller (`comanda serve`, tests)."""

    pool: Pool
    redis: Redis
    payments: PaymentDeps | None = None
    asaas: AsaasWebhookDeps | None = None
    twilio: TwilioWebhookDeps | None = None
    media: MediaSigner | None = None
    console: ConsoleDeps | None = None
    export_links: ExportLinks | None = None  # LGPD data exports (`/privacy/export/...`)


def create_app(resources: Resources) -> FastAPI:
    """Build the app around already-open resources."""
    app = FastAPI(
        title="Comanda",
        summary="WhatsApp ordering agent for restaurants",
        version="0.1.0",
    )
    app.state.resources = resources
    app.include_router(health.router)
    prefix = resources.twilio.queue.settings.prefix if resources.twilio is not None else "comanda"
    app.include_router(metrics_router(resources.redis, resources.pool, prefix))
    if resources.payments is not None:
        app.include_router(payments_router(resources.payments))
    if resources.asaas is not None:
        app.include_router(asaas_router(resources.asaas))
    if resources.twilio is not None:
        app.include_router(
            twilio_router(resources.twilio),
            responses=refusals(
                {
                    400: "The form lacks a field a message must have, or one is malformed; `detail` names it",
                    403: "`X-Twilio-Signature` is missing or doesn't sign this request",
                }
            ),
        )
    if resources.media is not None:
        app.include_router(media_router(resources.media))
    if resources.export_links is not None:
        app.include_router(privacy_router(resources.pool, resources.export_links))
    if resources.console is not None:
        mount_console(app, resources.console)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(405, _method_not_allowed)
    _document_400_not_422(app)
    return app


async def _invalid_request(request: Request, exc: Exception) -> Response:
    # one shape for every refusal: a 400 whose detail names the fields, not FastAPI's 422 with a list
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(ErrorBody(detail=describe_errors(exc.errors())).model_dump(), status_code=400)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    # Starlette's 405 names only the methods of the first route matching the path (GET /pay/{ref}, not its POST);
    # the truth is every method some route takes on this path, and OPTIONS answers with it
    assert isinstance(exc, StarletteHTTPException)
    allowed = _allowed_methods(request.app, request.scope["path"], request.scope.get("root_path", ""))
    headers = {"Allow": ", ".join(sorted(allowed))}
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=headers)
    return JSONResponse(ErrorBody(detail=f"{request.method} is not allowed here").model_dump(), 405, headers)


def _allowed_methods(app: FastAPI, path: str, root_path: str) -> set[str]:
    # asked of the router the way a request would be (FastAPI keeps included routers as opaque routes)
    allowed = {"OPTIONS"}
    for method in _METHODS:
        probe = {"type": "http", "path": path, "root_path": root_path, "method": method, "headers": []}
        if any(route.matches(probe)[0] is Match.FULL for route in app.router.routes):
            allowed.add(method)
    return allowed


def _document_400_not_422(app: FastAPI) -> None:
    """The spec says what `_invalid_request` answers: FastAPI documents a 422 for every route with parameters."""
    build = app.openapi
    invalid = {
        "description": "A parameter is missing or malformed; `detail` names it",
        "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
    }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if responses.pop("422", None) is not None:
                        responses.setdefault("400", invalid)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())  # what `refusals` points to
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
