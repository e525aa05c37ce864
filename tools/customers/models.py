"""The customer as the conversation knows them, and the registration draft being confirmed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# where a customer message (a HumanMessage's additional_kwargs) carries the pin it shared, as SharedLocation's fields
LOCATION_KEY = "comanda_location"


class SharedLocation(BaseModel):
    """A location pin the customer shared on WhatsApp: coordinates as numbers, and what the map said about it."""

    model_config = ConfigDict(frozen=True)

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    address: str | None = None  # the place's address when the customer picked a place on the map
    label: str | None = None  # the place's name


class AddressInfo(BaseModel):
    """A delivery address (saved when `id` is set)."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    label: str | None = None
    street: str
    number: str
    complement: str | None = None
    neighborhood: str
    city: str
    state: str
    postal_code: str | None = None
    reference: str | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)

    def one_line(self) -> str:
        """ "Rua das Flores, 123, Apto 45 - Jardim Primavera, São Paulo/SP" """
        parts = [f"{self.street}, {self.number}"]
        if self.complement:
            parts.append(self.complement)
        text = ", ".join(parts) + f" - {self.neighborhood}, {self.city}/{self.state}"
        if self.postal_code:
            text += f", CEP {self.postal_code}"
        return text


class LastOrder(BaseModel):
    """The customer's most recent order, to greet them with it and offer to repeat it."""

    model_config = ConfigDict(frozen=True)

    order_id: int
    created_at: datetime
    summary: str  # "1x Cheese Bacon, 1x Coca-Cola Lata"


class CustomerInfo(BaseModel):
    """Who is writing: known (id set) or not yet registered."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    phone: str
    name: str | None = None
    email: str | None = None
    addresses: list[AddressInfo] = []
    default_address_id: int | None = None
    last_order: LastOrder | None = None

    @property
    def registered(self) -> bool:
        """A customer we can deliver to: a name and at least one address."""
        return self.id is not None and bool(self.name) and bool(self.addresses)


class AddressDraft(BaseModel):
    """An address being collected; any field may still be missing."""

    model_config = ConfigDict(frozen=True)

    label: str | None = None
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighborhood: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    reference: str | None = None
    # from a shared location pin, never typed in by the model
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


RegistrationStep = Literal["name", "address", "email", "confirm", "address_choice"]


class RegistrationDraft(BaseModel):
    """What registration has collected so far and what it waits for; nothing is saved before `confirm`."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    email: str | None = None
    email_declined: bool = False
    cpf: str | None = None
    address: AddressDraft = AddressDraft()
    awaiting: RegistrationStep | None = None
