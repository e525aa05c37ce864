"""Customer identification by phone, registration (name → address → e-mail → confirm) and addresses."""

from __future__ import annotations

import re
from typing import Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict
from unidecode import unidecode

from memory.db import Conn, Pool
from memory.repos import customers as customer_repo
from memory.repos.customers import AddressFields, AddressRow
from memory.repos.tenants import Tenant
from tools.customers.models import (
    AddressDraft,
    AddressInfo,
    CustomerInfo,
    LastOrder,
    RegistrationDraft,
    SharedLocation,
)
from tools.pos import customer_events

NextStep = Literal["name", "address", "email", "confirm", "done"]
ADDRESS_REQUIRED = ("street", "number", "neighborhood")
UFS = frozenset("AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split())
# one comma-separated part of an address such as "São Paulo - SP" or "São Paulo/SP"
_CITY_UF = re.compile(r"^(.*?)\s*[-/]\s*([A-Z]{2})$")
# the draft model may not carry a CPF yet; when it does, a valid CPF waits there until confirmation
_DRAFT_HAS_CPF = "cpf" in RegistrationDraft.model_fields


class InvalidFields(Exception):
    """Some fields failed validation; `fields` names them and `reasons` says why."""

    def __init__(self, fields: list[str], reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.fields = fields
        self.reasons = reasons


class RegistrationInput(BaseModel):
    """Fields the customer gave in this turn (None = not given)."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    email: str | None = None
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighborhood: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    reference: str | None = None
    label: str | None = None
    cpf: str | None = None
    no_email: bool = False


def to_e164(phone: str, region: str = "BR") -> str:
    """The phone in E.164 ("+5511987654321"); raises ValueError when it isn't a valid number."""
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {phone!r}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"not a valid phone number: {phone!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def valid_email(email: str) -> bool:
    """A plausible e-mail address (the mailbox itself is never checked)."""
    # email-validator, not our regex: "joão@exemplo.com.br" is a valid address (SMTPUTF8)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def normalize_cpf(cpf: str) -> str | None:
    """The 11 digits of a CPF whose check digits are right, else None."""
    digits = re.sub(r"\D", "", cpf)
    if len(digits) != 11 or digits == digits[0] * 11:
        return None
    for size in (9, 10):
        total = sum(int(d) * w for d, w in zip(digits[:size], range(size + 1, 1, -1), strict=True))
        check = (total * 10) % 11 % 10
        if check != int(digits[size]):
            return None
    return digits


def normalize_cep(cep: str) -> str | None:
    """A CEP as 00000-000, else None."""
    digits = re.sub(r"\D", "", cep)
    if len(digits) != 8 or not re.fullmatch(r"\d{5}-?\d{3}|\d{2}\.?\d{3}-?\d{3}", cep.strip()):
        return None
    return f"{digits[:5]}-{digits[5:]}"


def tenant_city_state(tenant: Tenant) -> tuple[str | None, str | None]:
    """The restaurant's city and UF, read from its address ("…, São Paulo - SP, 05405-150")."""
    found: tuple[str | None, str | None] = (None, None)
    for part in tenant.address.split(","):
        m = _CITY_UF.match(part.strip())
        if m and m.group(2) in UFS and m.group(1):
            found = (m.group(1), m.group(2))
    return found


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def merge_registration(
    draft: RegistrationDraft, given: RegistrationInput, tenant: Tenant
) -> tuple[RegistrationDraft, list[str], list[str]]:
    """Merge the valid given fields into the draft; returns (draft, invalid fields, reasons why)."""
    invalid: list[str] = []
    reasons: list[str] = []
    updates: dict[str, object] = {}
    address: dict[str, str | None] = {}

    if (name := _clean(given.name)) is not None:
        if len(name) < 2 or not re.search(r"[^\W\d_]", name):
            invalid.append("name")
            reasons.append(f"name {name!r} does not look like a person's name")
        else:
            updates["name"] = name[:120]
    if (email := _clean(given.email)) is not None:
        email = email.lower()
        if valid_email(email):
            updates["email"] = email
            updates["email_declined"] = False
        else:
            invalid.append("email")
            reasons.append(f"email {email!r} is not a valid e-mail address")
    elif given.no_email:
        updates["email"] = None
        updates["email_declined"] = True
    if (raw_cpf := _clean(given.cpf)) is not None:
        cpf = normalize_cpf(raw_cpf)
        if cpf is None:
            invalid.append("cpf")
            reasons.append(f"cpf {raw_cpf!r} is not a valid CPF (check digits)")
        elif _DRAFT_HAS_CPF:
            updates["cpf"] = cpf
    if (cep := _clean(given.postal_code)) is not None:
        if (norm := normalize_cep(cep)) is None:
            invalid.append("postal_code")
            reasons.append(f"postal_code {cep!r} must be a CEP like 00000-000")
        else:
            address["postal_code"] = norm
    if (uf := _clean(given.state)) is not None:
        if uf.upper() not in UFS:
            invalid.append("state")
            reasons.append(f"state {uf!r} must be a Brazilian UF such as SP or RJ")
        else:
            address["state"] = uf.upper()
    for field in ("street", "number", "complement", "neighborhood", "city", "reference", "label"):
        if (value := _clean(getattr(given, field))) is not None:
            address[field] = value[:60] if field == "label" else value
    for field in ("street", "number", "neighborhood", "city"):
        # "🏠🏠" or "..." is no part of an address: ask again rather than save it
        if field in address and not re.search(r"\w", address[field] or ""):
            invalid.append(field)
            reasons.append(f"{field} {address.pop(field)!r} has no letters or digits")

    new_address = draft.address.model_copy(update=address)
    if new_address.street or new_address.number or new_address.neighborhood:
        city, uf = tenant_city_state(tenant)
        defaults = {"city": new_address.city or city, "state": new_address.state or uf}
        new_address = new_address.model_copy(update=defaults)
    updates["address"] = new_address
    return draft.model_copy(update=updates), invalid, reasons


def with_location(draft: RegistrationDraft, pin: SharedLocation, tenant: Tenant) -> RegistrationDraft:
    """The draft with the pin's coordinates (numbers stay numbers: no text field is made from them), and the name of
    the place picked on the map as its label when the customer gave it none: they can pick it by that name later."""
    city, uf = tenant_city_state(tenant)
    place = _clean(pin.label)
    address = draft.address.model_copy(
        update={
            "latitude": pin.latitude,
            "longitude": pin.longitude,
            "city": draft.address.city or city,
            "state": draft.address.state or uf,
            "label": draft.address.label or (place[:60] if place and re.search(r"\w", place) else None),
        }
    )
    return draft.model_copy(update={"address": address})


def missing_fields(draft: RegistrationDraft, customer: CustomerInfo | None) -> list[str]:
    """Required fields still missing (`name` only for someone we don't know by name)."""
    missing: list[str] = []
    if not (draft.name or (customer and customer.name)):
        missing.append("name")
    missing += [f for f in (*ADDRESS_REQUIRED, "city", "state") if not getattr(draft.address, f)]
    return missing


def next_step(draft: RegistrationDraft, customer: CustomerInfo | None) -> NextStep:
    """What to ask next: name → address → e-mail (once, optional) → confirm."""
    missing = missing_fields(draft, customer)
    if "name" in missing:
        return "name"
    if missing:
        return "address"
    known = customer is not None and customer.id is not None
    asked = draft.email_declined or draft.email or draft.awaiting in ("email", "confirm")
    if not known and not asked and not (customer and customer.email):
        return "email"
    return "confirm"


def draft_address(draft: AddressDraft) -> AddressFields | None:
    """The draft's address when complete."""
    if any(not getattr(draft, f) for f in (*ADDRESS_REQUIRED, "city", "state")):
        return None
    return AddressFields.model_validate(draft.model_dump())


def summary_text(draft: RegistrationDraft, customer: CustomerInfo | None) -> str:
    """The draft as the customer will confirm it: name, address, e-mail (one per line)."""
    lines = [draft.name or (customer.name if customer else None) or "?"]
    if (addr := draft_address(draft.address)) is not None:
        lines.append(AddressInfo.model_validate(addr.model_dump()).one_line())
    if draft.email:
        lines.append(draft.email)
    return "\n".join(lines)


def _address_info(row: AddressRow) -> AddressInfo:
    return AddressInfo.model_validate(row.model_dump(exclude={"customer_id"}))


async def identify_customer(conn: Conn, tenant_id: int, phone: str) -> CustomerInfo:
    """Who is writing: the customer with addresses (default first) and last order, or an unknown phone."""
    found = await customer_repo.profile_by_phone(conn, tenant_id, phone)
    if found is None:
        return CustomerInfo(id=None, phone=phone)
    row, last = found.customer, found.last_order
    return CustomerInfo(
        id=row.id,
        phone=row.phone,
        name=row.name,
        email=row.email,
        addresses=[_address_info(a) for a in found.addresses],
        default_address_id=row.default_address_id,
        last_order=LastOrder(order_id=last.id, created_at=last.created_at, summary=last.summary) if last else None,
    )


async def confirm_registration(
    pool: Pool, tenant: Tenant, phone: str, draft: RegistrationDraft, customer: CustomerInfo | None
) -> CustomerInfo:
    """Save the customer (upsert by phone) and the draft's address as default, in one transaction.

    Replaying it changes nothing: the customer is unique per phone and an identical address is reused.
    """
    address = draft_address(draft.address)
    name = draft.name or (customer.name if customer else None)
    if address is None or not name:
        raise InvalidFields(missing_fields(draft, customer), ["registration is not complete"])
    async with pool.connection() as conn, conn.transaction():
        # the upsert locks the customer row: a concurrent replay waits here, then finds the address saved
        cpf = getattr(draft, "cpf", None)
        old = await customer_events.before(conn, tenant.id, phone)
        row = await customer_repo.upsert(conn, tenant.id, phone, name=name, email=draft.email, cpf=cpf)
        saved = await customer_repo.find_or_insert_address(conn, tenant.id, row.id, address)
        await customer_repo.set_default_address(conn, tenant.id, row.id, saved.id)
        # the POS hears of the customer in the same transaction (seed 003's CUSTOMER_CREATED/UPDATED)
        await customer_events.record(conn, tenant.id, old, phone)
    async with pool.connection() as conn:
        return await identify_customer(conn, tenant.id, phone)


async def choose_address(pool: Pool, tenant_id: int, customer: CustomerInfo, address_id: int) -> CustomerInfo:
    """Make one of the customer's addresses the default; returns the refreshed customer."""
    assert customer.id is not None
    async with pool.connection() as conn:
        async with conn.transaction():
            old = await customer_events.before(conn, tenant_id, customer.phone, customer.id)
            if not await customer_repo.set_default_address(conn, tenant_id, customer.id, address_id):
                raise InvalidFields(["index"], ["that address is not one of the customer's"])
            await customer_events.record(conn, tenant_id, old, customer.phone)
        return await identify_customer(conn, tenant_id, customer.phone)


async def update_customer(
    pool: Pool, tenant_id: int, customer: CustomerInfo, *, name: str | None, email: str | None, cpf: str | None
) -> CustomerInfo:
    """Change a registered customer's name, e-mail or CPF (validated); returns the refreshed customer."""
    assert customer.id is not None
    invalid: list[str] = []
    reasons: list[str] = []
    name = _clean(name)
    if name is not None and (len(name) < 2 or not re.search(r"[^\W\d_]", name)):
        invalid.append("name")
        reasons.append(f"name {name!r} does not look like a person's name")
    email = _clean(email)
    if email is not None:
        email = email.lower()
        if not valid_email(email):
            invalid.append("email")
            reasons.append(f"email {email!r} is not a valid e-mail address")
    norm_cpf = None
    if (raw := _clean(cpf)) is not None and (norm_cpf := normalize_cpf(raw)) is None:
        invalid.append("cpf")
        reasons.append(f"cpf {raw!r} is not a valid CPF (check digits)")
    if invalid:
        raise InvalidFields(invalid, reasons)
    async with pool.connection() as conn:
        async with conn.transaction():
            old = await customer_events.before(conn, tenant_id, customer.phone, customer.id)
            await customer_repo.update_fields(conn, tenant_id, customer.id, name=name, email=email, cpf=norm_cpf)
            await customer_events.record(conn, tenant_id, old, customer.phone)
        return await identify_customer(conn, tenant_id, customer.phone)


def _fold(text: str) -> str:
    return " ".join(unidecode(text).lower().split())


def find_address(customer: CustomerInfo, *, index: int | None = None, label: str | None = None) -> AddressInfo:
    """One of the customer's saved addresses by its number in the list (1-based) or its label ("trabalho")."""
    if index is not None:
        if 1 <= index <= len(customer.addresses):
            return customer.addresses[index - 1]
        raise InvalidFields(["index"], [f"there is no address number {index}; there are {len(customer.addresses)}"])
    if label is not None and (wanted := _fold(label)):
        for address in customer.addresses:
            if address.label and _fold(address.label) == wanted:
                return address
        raise InvalidFields(["label"], [f"no saved address is called {label!r}"])
    raise InvalidFields(["index"], ["say which address: its number or its label"])


def _fresh_address(customer: CustomerInfo, address_id: int) -> AddressInfo:
    found = next((a for a in customer.addresses if a.id == address_id), None)
    if found is None:
        raise InvalidFields(["index"], ["that address is not one of the customer's"])
    return found


async def correct_address(
    pool: Pool, tenant: Tenant, customer: CustomerInfo, address_id: int, given: RegistrationInput
) -> CustomerInfo:
    """Correct fields of a saved address ("o número é 510, não 150"), validated like registration."""
    assert customer.id is not None
    current = _fresh_address(customer, address_id)
    draft = RegistrationDraft(address=AddressDraft.model_validate(current.model_dump(exclude={"id"})))
    merged, invalid, reasons = merge_registration(draft, given, tenant)
    if invalid:
        raise InvalidFields(invalid, reasons)
    fields = draft_address(merged.address)
    assert fields is not None  # it was complete and no field can be emptied
    async with pool.connection() as conn:
        async with conn.transaction():
            old = await customer_events.before(conn, tenant.id, customer.phone, customer.id)
            if await customer_repo.update_address(conn, tenant.id, customer.id, address_id, fields) is None:
                raise InvalidFields(["index"], ["that address is not one of the customer's"])
            await customer_events.record(conn, tenant.id, old, customer.phone)
        return await identify_customer(conn, tenant.id, customer.phone)


async def locate_address(
    pool: Pool, tenant: Tenant, customer: CustomerInfo, address_id: int, pin: SharedLocation
) -> CustomerInfo:
    """Give a saved address the coordinates of a pin the customer shared for it (its words stay as they are)."""
    assert customer.id is not None
    current = _fresh_address(customer, address_id)
    fields = customer_repo.AddressFields.model_validate(
        current.model_dump(exclude={"id"}) | {"latitude": pin.latitude, "longitude": pin.longitude}
    )
    async with pool.connection() as conn:
        async with conn.transaction():
            if await customer_repo.update_address(conn, tenant.id, customer.id, address_id, fields) is None:
                raise InvalidFields(["index"], ["that address is not one of the customer's"])
        return await identify_customer(conn, tenant.id, customer.phone)


async def rename_address(
    pool: Pool, tenant: Tenant, customer: CustomerInfo, address_id: int, label: str
) -> CustomerInfo:
    """Give a saved address a label ("casa", "trabalho") the customer can pick it by."""
    clean = _clean(label)
    if clean is None or not re.search(r"\w", clean):
        raise InvalidFields(["label"], [f"label {label!r} has no letters or digits"])
    return await correct_address(pool, tenant, customer, address_id, RegistrationInput(label=clean))


async def remove_address(pool: Pool, tenant_id: int, customer: CustomerInfo, address_id: int) -> CustomerInfo:
    """Delete a saved address (orders keep their copy); the default moves to the oldest one left."""
    assert customer.id is not None
    async with pool.connection() as conn:
        async with conn.transaction():
            old = await customer_events.before(conn, tenant_id, customer.phone, customer.id)
            if not await customer_repo.delete_address(conn, tenant_id, customer.id, address_id):
                raise InvalidFields(["index"], ["that address is not one of the customer's"])
            await customer_events.record(conn, tenant_id, old, customer.phone)
        return await identify_customer(conn, tenant_id, customer.phone)
