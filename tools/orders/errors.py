"""A checkout step that cannot go on, and the ToolError the model gets for it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tools.results import ErrorCode, ToolError

log = logging.getLogger(__name__)


class CheckoutError(Exception):
    """A checkout step that cannot go on; carries the ToolError for the model."""

    def __init__(
        self,
        error: ErrorCode,
        message: str,
        *,
        fields: Sequence[str] = (),
        items: Sequence[str] = (),
        item: str | None = None,
    ) -> None:
        super().__init__(message)
        self.tool_error = ToolError(
            error=error, message=message, fields=list(fields), suggestions=list(items), item=item
        )
