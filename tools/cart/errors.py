"""The cart's expected failures, each carrying the `ToolError` the model gets back."""

from __future__ import annotations

from tools.results import ErrorCode, ToolError


class CartError(Exception):
    """An expected failure; `error` is what the tool returns."""

    def __init__(self, error: ToolError) -> None:
        super().__init__(error.message)
        self.error = error


def fail(code: ErrorCode, message: str, **kw: object) -> CartError:
    return CartError(ToolError(error=code, message=message, **kw))
