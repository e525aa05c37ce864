"""How the API refuses a request: one typed body for every 4xx, and the OpenAPI entries that say so."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    """A refusal: `detail` names the field that is wrong, or the reason (a bad signature, an unknown payment)."""

    detail: str


ERROR_SCHEMA_REF = "#/components/schemas/ErrorBody"


def refusals(described: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for the refusals a route really gives, each with what it means there.

    The content is spelled out rather than given as `model`: FastAPI would file a model under the route's own media
    type, and the pay page's refusals are JSON, not HTML. `create_app` adds the ErrorBody schema they point to.
    """
    content = {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}}
    return {status: {"description": text, "content": content} for status, text in described.items()}


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """Pydantic's errors as one line naming each field: `amount: Value error, ...; paid_at: Field required`."""

    def where(loc: Iterable[Any]) -> str:
        # FastAPI puts where the value came from first ("path", "query", "body"); the field is what people know
        parts = [str(p) for p in loc]
        if parts and parts[0] in ("path", "query", "header", "cookie", "body"):
            parts = parts[1:] or parts
        return ".".join(parts) or "body"

    return "; ".join(f"{where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors)
