"""Typed tool results. A tool never raises into the graph: failures are `ToolError`s the model can recover from."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.tools import InjectedToolArg
from pydantic import BaseModel, ConfigDict, Field

ErrorCode = Literal[
    "unknown_item",  # no menu item matches; `suggestions` has the closest names
    "ambiguous_item",  # several items match equally; `suggestions` lists them
    "unavailable_item",  # the item exists but is not available now; `suggestions` has alternatives
    "invalid_quantity",  # qty < 1 or above the per-line limit
    "invalid_option",  # an option or removal that the item doesn't have; `suggestions` has valid ones
    "missing_option",  # a required option group was not chosen; `suggestions` has its choices
    "too_many_options",  # more choices than the group's max
    "empty_cart",
    "not_in_cart",
    "not_registered",  # the customer must register first
    "missing_field",  # registration or checkout lacks a field; `fields` names them
    "invalid_field",  # a field failed validation; `fields` names them
    "no_address",
    "choose_address",  # the customer has several saved addresses and hasn't said which one this order goes to
    "no_payment_method",
    "closed",  # the restaurant is closed now
    "outside_delivery_area",  # the address is in none of the restaurant's delivery areas; `suggestions` lists them
    "address_unlocated",  # only radius bands could hold the address and it has no coordinates (ask for a pin)
    "not_confirmed",
    "nothing_to_repeat",
    "payment_failed",
    "allergy_warning",  # the item contains an allergen the customer told us about; ask before adding it
    "allergy_declined",  # the customer chose not to add it after the warning
    "internal",  # our fault; the message says what to tell the customer
]


class ToolError(BaseModel):
    """A recoverable failure, with what the model needs to ask the customer the right question."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["error"] = "error"
    error: ErrorCode
    message: str
    item: str | None = None
    group: str | None = None
    option: str | None = None  # the option or removal the customer asked for that doesn't exist
    suggestions: list[str] = []
    fields: list[str] = []
    items: list[str] = []  # every item the error is about, when there are several (`item` is the first)


class NoArgs(BaseModel):
    """The argument schema of a tool that takes nothing from the model, only the injected runtime.

    Without it langchain infers a schema holding `runtime` and dumps it on every call: pydantic then warns with a
    repr of the whole conversation state, which cost ~15 ms a call. `exclude` keeps the runtime out of that dump;
    `InjectedToolArg` keeps it out of the schema the model sees.
    """

    runtime: Annotated[Any, InjectedToolArg] = Field(default=None, exclude=True)


def internal_error() -> str:
    """Our failure, for the model to apologise for."""
    return ToolError(
        error="internal", message="Something went wrong on our side; apologise and try again."
    ).model_dump_json()
