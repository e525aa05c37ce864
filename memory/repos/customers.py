"""Customers (E.164 phone unique per tenant) and their delivery addresses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memory.db import Conn


class CustomerRow(BaseModel):
    """A customer as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: int
    phone: str
    name: str | None
    email: str | None
    cpf: str | None
    default_address_id: int | None


class AddressFields(BaseModel):
    """What a customer gives for one delivery address."""

    model_config = ConfigDict(frozen=True)

    label: str | None = None
    street: str
    number: str
    complement: str | None = None
    neighborhood: str
    city: str
    state: str
    postal_code: str | None = None
    reference: str | None = None
    # from a location pin; both or neither (the table checks it too)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class AddressRow(AddressFields):
    """A saved address."""

    id: int
    customer_id: int


_CUSTOMER = "id, tenant_id, phone, name, email, cpf, default_address_id"
_ADDRESS = (
    "id, customer_id, label, street, number, complement, neighborhood, city, state, postal_code, reference, "
    "latitude, longitude"
)


def _customer(row: dict[str, Any] | None) -> CustomerRow | None:
    return CustomerRow.model_validate(row) if row else None


async def by_phone(conn: Conn, tenant_id: int, phone: str) -> CustomerRow | None:
    """The tenant's customer with this E.164 phone, if any."""
    cur = await conn.execute(
        f"SELECT {_CUSTOMER} FROM customers WHERE tenant_id = %s AND phone = %s", (tenant_id, phone)
    )
    return _customer(await cur.fetchone())


class LastOrderRow(BaseModel):
    """A customer's most recent order, summed up as "1x Cheese Bacon, 1x Coca-Cola Lata"."""

    id: int
    created_at: datetime
    summary: str


class CustomerProfile(BaseModel):
    """A customer with their addresses (the default first, then oldest first) and their last order."""

    customer: CustomerRow
    addresses: list[AddressRow]
    last_order: LastOrderRow | None


async def profile_by_phone(conn: Conn, tenant_id: int, phone: str) -> CustomerProfile | None:
    """The tenant's customer with this phone, their addresses and last order, in one query (it runs every turn)."""
    cur = await conn.execute(
        f"""SELECT {", ".join("c." + c.strip() for c in _CUSTOMER.split(","))},
                   coalesce((SELECT json_agg(a ORDER BY a.is_default DESC, a.id)
                               FROM (SELECT {_ADDRESS}, id IS NOT DISTINCT FROM c.default_address_id AS is_default
                                       FROM addresses
                                      WHERE tenant_id = c.tenant_id AND customer_id = c.id) a), '[]') AS addresses,
                   (SELECT json_build_object(
                               'id', o.id, 'created_at', o.created_at,
                               'summary', coalesce((SELECT string_agg(i.qty::text || 'x ' || i.name, ', '
                                                                      ORDER BY i.position, i.id)
                                                      FROM order_items i
                                                     WHERE i.tenant_id = o.tenant_id AND i.order_id = o.id), ''))
                      FROM orders o WHERE o.tenant_id = c.tenant_id AND o.customer_id = c.id
                     ORDER BY o.created_at DESC, o.id DESC LIMIT 1) AS last_order
              FROM customers c WHERE c.tenant_id = %s AND c.phone = %s""",
        (tenant_id, phone),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return CustomerProfile(
        customer=CustomerRow.model_validate(row),
        addresses=[AddressRow.model_validate(a) for a in row["addresses"]],
        last_order=LastOrderRow.model_validate(row["last_order"]) if row["last_order"] else None,
    )


async def by_id(conn: Conn, tenant_id: int, customer_id: int, *, for_update: bool = False) -> CustomerRow | None:
    """One customer; `for_update` locks the row until the transaction ends (serialises address edits)."""
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(
        f"SELECT {_CUSTOMER} FROM customers WHERE tenant_id = %s AND id = %s{lock}", (tenant_id, customer_id)
    )
    return _customer(await cur.fetchone())


async def upsert(
    conn: Conn, tenant_id: int, phone: str, *, name: str, email: str | None, cpf: str | None
) -> CustomerRow:
    """Create the customer or update the one with this phone (e-mail and CPF are kept when not given)."""
    cur = await conn.execute(
        f"""INSERT INTO customers (tenant_id, phone, name, email, cpf)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (tenant_id, phone) DO UPDATE SET
                name = EXCLUDED.name,
                email = COALESCE(EXCLUDED.email, customers.email),
                cpf = COALESCE(EXCLUDED.cpf, customers.cpf),
                updated_at = now()
            RETURNING {_CUSTOMER}""",
        (tenant_id, phone, name, email, cpf),
    )
    row = _customer(await cur.fetchone())
    assert row is not None
    return row


async def update_fields(
    conn: Conn,
    tenant_id: int,
    customer_id: int,
    *,
    name: str | None = None,
    email: str | None = None,
    cpf: str | None = None,
) -> CustomerRow | None:
    """Change the given fields (None keeps the stored value)."""
    cur = await conn.execute(
        f"""UPDATE customers SET name = COALESCE(%s, name), email = COALESCE(%s, email), cpf = COALESCE(%s, cpf),
                   updated_at = now()
            WHERE tenant_id = %s AND id = %s RETURNING {_CUSTOMER}""",
        (name, email, cpf, tenant_id, customer_id),
    )
    return _customer(await cur.fetchone())


async def address_by_id(conn: Conn, tenant_id: int, customer_id: int, address_id: int) -> AddressRow | None:
    """One of the customer's addresses."""
    cur = await conn.execute(
        f"SELECT {_ADDRESS} FROM addresses WHERE tenant_id = %s AND customer_id = %s AND id = %s",
        (tenant_id, customer_id, address_id),
    )
    row = await cur.fetchone()
    return AddressRow.model_validate(row) if row else None


async def find_or_insert_address(conn: Conn, tenant_id: int, customer_id: int, fields: AddressFields) -> AddressRow:
    """The customer's identical address if saved already, else a new one (a replayed turn adds nothing).

    Callers hold the customer row lock (`by_id(..., for_update=True)`) so two replays can't both insert.
    """
    values = (
        fields.street,
        fields.number,
        fields.complement,
        fields.neighborhood,
        fields.city,
        fields.state,
        fields.postal_code,
        fields.reference,
        fields.latitude,
        fields.longitude,
    )
    cur = await conn.execute(
        f"""SELECT {_ADDRESS} FROM addresses
            WHERE tenant_id = %s AND customer_id = %s
              AND (street, number, complement, neighborhood, city, state, postal_code, reference, latitude, longitude)
                  IS NOT DISTINCT FROM (%s, %s, %s, %s, %s, %s, %s, %s, %s::float8, %s::float8)
            ORDER BY id LIMIT 1""",
        (tenant_id, customer_id, *values),
    )
    row = await cur.fetchone()
    if row is None:
        cur = await conn.execute(
            f"""INSERT INTO addresses (tenant_id, customer_id, label, street, number, complement, neighborhood,
                                       city, state, postal_code, reference, latitude, longitude)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_ADDRESS}""",
            (tenant_id, customer_id, fields.label, *values),
        )
        row = await cur.fetchone()
    assert row is not None
    return AddressRow.model_validate(row)


async def set_default_address(conn: Conn, tenant_id: int, customer_id: int, address_id: int) -> bool:
    """Make one of the customer's addresses the default; False if it isn't theirs."""
    cur = await conn.execute(
        """UPDATE customers SET default_address_id = a.id, updated_at = now()
           FROM addresses a
           WHERE customers.tenant_id = %s AND customers.id = %s
             AND a.id = %s AND a.customer_id = customers.id AND a.tenant_id = customers.tenant_id""",
        (tenant_id, customer_id, address_id),
    )
    return cur.rowcount > 0


async def update_address(
    conn: Conn, tenant_id: int, customer_id: int, address_id: int, fields: AddressFields
) -> AddressRow | None:
    """Replace one of the customer's addresses with corrected fields (None if it isn't theirs)."""
    cur = await conn.execute(
        f"""UPDATE addresses SET label = %s, street = %s, number = %s, complement = %s, neighborhood = %s,
                   city = %s, state = %s, postal_code = %s, reference = %s, latitude = %s, longitude = %s
            WHERE tenant_id = %s AND customer_id = %s AND id = %s RETURNING {_ADDRESS}""",
        (
            fields.label,
            fields.street,
            fields.number,
            fields.complement,
            fields.neighborhood,
            fields.city,
            fields.state,
            fields.postal_code,
            fields.reference,
            fields.latitude,
            fields.longitude,
            tenant_id,
            customer_id,
            address_id,
        ),
    )
    row = await cur.fetchone()
    return AddressRow.model_validate(row) if row else None


async def delete_address(conn: Conn, tenant_id: int, customer_id: int, address_id: int) -> bool:
    """Remove one of the customer's addresses; orders keep their own copy. False if it isn't theirs.

    A removed default leaves the oldest remaining address as the default (seed 003: there is always one when any).
    """
    cur = await conn.execute(
        "DELETE FROM addresses WHERE tenant_id = %s AND customer_id = %s AND id = %s",
        (tenant_id, customer_id, address_id),
    )
    if cur.rowcount == 0:
        return False
    await conn.execute(
        """UPDATE customers SET default_address_id = (
                   SELECT id FROM addresses WHERE tenant_id = %s AND customer_id = %s ORDER BY id LIMIT 1),
               updated_at = now()
           WHERE tenant_id = %s AND id = %s AND default_address_id IS NULL""",
        (tenant_id, customer_id, tenant_id, customer_id),
    )
    return True
