"""The customer's LGPD requests: a copy of their data, or its erasure, each confirmed before anything happens."""

from __future__ import annotations

from typing import Any

from graph.language.privacy import privacy_request
from graph.offline import parsing as p
from graph.offline.policy.common import Decision, Say, call, has_any, not_understood
from graph.offline.view import TurnView

# answers to the notice that keep the data out of a profile (normalized: "don't" is "dont")
REFUSE = (
    *("nao autorizo", "nao concordo", "nao aceito", "nao quero que guarde", "nao quero que salve", "nao guarde"),
    *("nao salva meus dados", "nao salve meus dados", "nao guardem", "sem guardar", "sem salvar", "so pra esse pedido"),
    *("so para esse pedido", "so para este pedido", "dont save my data", "do not save my data", "dont keep my data"),
    *("do not keep my data", "i dont agree", "i do not agree", "i dont consent", "just this order", "only this order"),
)
AWAITING_EXPORT = "registration.privacy_export"
AWAITING_ERASE = "registration.privacy_erase"


def is_privacy_request(text: str) -> bool:
    """The customer asks for their data or its erasure (never an order, whatever words it shares with one)."""
    return privacy_request(text) is not None


def refuses_consent(text: str) -> bool:
    """The customer answers the privacy notice with a refusal ("não autorizo", "just this order")."""
    return has_any(text, REFUSE)


def privacy_step(view: TurnView, say: Say) -> Decision | None:
    """A request to note, or the answer to our "confirm?" question; None when the message is about neither."""
    text = view.text
    awaiting = view.context.get("awaiting")
    if (request := privacy_request(text)) is not None:
        return call("privacy_request", request=request)
    if awaiting not in (AWAITING_EXPORT, AWAITING_ERASE):
        return None
    yes = p.parse_yes_no(text)
    if yes is True:
        return call("export_my_data" if awaiting == AWAITING_EXPORT else "erase_my_data")
    if yes is False:
        return call("privacy_request", request="cancel")
    kind = "export" if awaiting == AWAITING_EXPORT else "erase"
    return not_understood(say, f"privacy.confirm_{kind}")


def privacy_reply(kind: str, result: dict[str, object], say: Say) -> Decision | None:
    """What to say after a privacy tool answered; None for other tools' results."""
    if kind == "privacy_request":
        request = result.get("request")
        return Decision(text=say("privacy.cancelled" if request == "cancel" else f"privacy.confirm_{request}"))
    if kind == "export_ready":
        return Decision(
            text=say("privacy.export_ready", url=result.get("url", ""), hours=result.get("valid_hours", 24))
        )
    if kind == "privacy_no_data":
        return Decision(text=say("privacy.no_data"))
    if kind == "erased":
        return Decision(text=say("privacy.erased"))
    return None


def privacy_notice(ctx: dict[str, Any], say: Say) -> str | None:
    """What we keep and why, with the restaurant's privacy link, before a new customer's first save (their
    "sim" to the summary is their consent); None for a customer already registered."""
    if ctx.get("registered"):
        return None
    url = ctx.get("privacy_url")
    return say("privacy.notice", url=url) if url else say("privacy.notice_no_link")
