"""A trial's world: template databases, the scenario's menu and restaurant, its customer, a paid order."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from evals.scenario import CustomerProfile, Scenario, ScenarioFileError
from memory.checkpointer import make_checkpointer
from memory.db import Pool, open_pool
from memory.embeddings import Embedder
from memory.migrate import migrate
from memory.repos import customers as customer_repo
from memory.repos import menu as menu_repo
from memory.repos import orders as order_repo
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from memory.repos.tenants import Tenant
from tools.cart.models import ChosenOption
from tools.cart.pricing import unit_price
from tools.memory.service import remember_turn
from tools.menu.importer import import_menu
from tools.menu.menu_file import MenuFile, parse_json
from tools.payments.settlement import settle_paid

DEMO_MENU = Path(__file__).resolve().parent.parent / "comanda" / "fixtures" / "demo-restaurant.json"


def _db_url(base_url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(base_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)  # type: ignore[arg-type]


class Databases:
    """A template database (migrated, demo menu imported with embeddings, checkpoint tables) and its clones.

    Cloning a template is a file copy inside Postgres: far cheaper than migrating and importing per trial.
    """

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.template = f"eval_tmpl_{uuid.uuid4().hex[:10]}"
        # CREATE DATABASE ... TEMPLATE refuses while another clone of the same template is being made
        self._lock = asyncio.Lock()

    async def _admin(self, statement: str, *names: str) -> None:
        query = sql.SQL(statement).format(*(sql.Identifier(n) for n in names))
        async with await psycopg.AsyncConnection.connect(self.server_url, autocommit=True) as conn:
            await conn.execute(query)

    async def prepare(self, embedder: Embedder, restaurants: Sequence[Path] = ()) -> None:
        """Create the template: migrations, the demo restaurant and the scenarios' fixture restaurants (embedded
        once here, not per trial), the checkpointer's tables."""
        await self._admin("CREATE DATABASE {}", self.template)
        url = _db_url(self.server_url, self.template)
        await migrate(url)
        pool = await open_pool(url, max_size=2, name="eval-template")
        try:
            await import_menu(pool, "demo", parse_json(DEMO_MENU.read_text(encoding="utf-8")), embedder)
            for path in dict.fromkeys(restaurants):
                menu = parse_json(path.read_text(encoding="utf-8"))
                assert menu.restaurant is not None  # checked by check_references
                await import_menu(pool, menu.restaurant.slug, menu, embedder)
            await make_checkpointer(pool)
        finally:
            await pool.close()

    @asynccontextmanager
    async def clone(self) -> AsyncIterator[str]:
        """A fresh database for one trial, dropped afterwards."""
        name = f"eval_trial_{uuid.uuid4().hex[:12]}"
        async with self._lock:
            await self._admin("CREATE DATABASE {} TEMPLATE {}", name, self.template)
        try:
            yield _db_url(self.server_url, name)
        finally:
            await self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    async def drop(self) -> None:
        """Remove the template."""
        await self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.template)


def phone_for(scenario: Scenario) -> str:
    """The customer's phone: given, or a stable Brazilian mobile number derived from the scenario id."""
    if scenario.customer.phone:
        return scenario.customer.phone
    digits = int(hashlib.sha256(scenario.id.encode()).hexdigest(), 16) % 10**8
    return f"+55119{digits:08d}"


def _menu_path(scenario: Scenario) -> Path:
    fixture = scenario.fixture
    if fixture.restaurant_file is not None:
        return fixture.restaurant_file
    return Path(scenario.file).parent / fixture.menu_file if fixture.menu_file else DEMO_MENU


def _menu_of(scenario: Scenario) -> MenuFile:
    return parse_json(_menu_path(scenario).read_text(encoding="utf-8"))


def check_references(scenarios: Sequence[Scenario]) -> None:
    """Refuse scenarios naming SKUs or options their menu doesn't have (a typo would fail every trial)."""
    problems: list[str] = []
    for s in scenarios:
        try:
            menu = _menu_of(s)
        except Exception as exc:
            problems.append(f"{s.file}: scenario {s.id!r}: fixture.menu_file: {exc}")
            continue
        if s.fixture.restaurant and (menu.restaurant is None or menu.restaurant.slug != s.fixture.tenant):
            slug = menu.restaurant.slug if menu.restaurant else None
            problems.append(f"{s.file}: scenario {s.id!r}: fixture.tenant: the restaurant's slug is {slug!r}")
            continue
        items = {i.sku: i for i in menu.items}
        where_lines: list[tuple[str, Any]] = []
        for i, past in enumerate(s.customer.past_orders):
            where_lines += [(f"customer.past_orders[{i}].lines[{j}]", ln) for j, ln in enumerate(past.lines)]
        if s.expect.order and s.expect.order.lines:
            where_lines += [(f"expect.order.lines[{j}]", ln) for j, ln in enumerate(s.expect.order.lines)]
        if s.expect.cart:
            where_lines += [(f"expect.cart.lines[{j}]", ln) for j, ln in enumerate(s.expect.cart.lines)]
        for where, line in where_lines:
            item = items.get(line.sku)
            if item is None:
                problems.append(f"{s.file}: scenario {s.id!r}: {where}.sku: no item {line.sku!r} on the menu")
                continue
            choices = {c.name.casefold() for g in item.options for c in g.choices}
            for opt in line.options:
                if opt.casefold() not in choices:
                    problems.append(f"{s.file}: scenario {s.id!r}: {where}.options: {line.sku} has no option {opt!r}")
        for j, change in enumerate(s.fixture.menu_changes):
            if change.sku not in items:
                problems.append(f"{s.file}: scenario {s.id!r}: fixture.menu_changes[{j}].sku: no item {change.sku!r}")
    if problems:
        raise ScenarioFileError(problems)


async def seed_trial(pool: Pool, scenario: Scenario, embedder: Embedder, phone: str) -> tuple[Tenant, set[int]]:
    """The restaurant and the customer as the scenario starts; returns the tenant and the seeded order ids."""
    fixture = scenario.fixture
    if fixture.menu_file:
        await import_menu(pool, fixture.tenant, _menu_of(scenario), embedder)
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, fixture.tenant)
        if tenant is None:
            raise ValueError(f"no tenant {fixture.tenant!r} in the fixture")
        for change in fixture.menu_changes:
            await conn.execute(
                """UPDATE menu_items SET available = coalesce(%s, available), price = coalesce(%s, price)
                   WHERE tenant_id = %s AND sku = %s""",
                (change.available, change.price, tenant.id, change.sku),
            )
        seeded = await _seed_customer(conn, tenant, scenario.customer, phone)
    if scenario.customer.memories:
        await remember_turn(pool, tenant.id, phone, scenario.customer.memories, embedder=embedder)
    return tenant, seeded


async def _seed_customer(conn: Any, tenant: Tenant, profile: CustomerProfile, phone: str) -> set[int]:
    if profile.name is None:
        return set()
    row = await customer_repo.upsert(conn, tenant.id, phone, name=profile.name, email=profile.email, cpf=None)
    saved = []
    for given in profile.addresses:
        fields = customer_repo.AddressFields.model_validate(given.model_dump())
        saved.append(await customer_repo.find_or_insert_address(conn, tenant.id, row.id, fields))
    if saved:
        await customer_repo.set_default_address(conn, tenant.id, row.id, saved[0].id)
    ids: set[int] = set()
    for n, past in enumerate(profile.past_orders):
        items = await menu_repo.by_skus(conn, tenant.id, [ln.sku for ln in past.lines])
        lines: list[order_repo.OrderLineFields] = []
        for ln in past.lines:
            item = items[ln.sku]
            chosen = [
                ChosenOption(group=g.group, choice=c.name, price_delta=c.price)
                for name in ln.options
                for g in item.options
                for c in g.choices
                if c.name.casefold() == name.casefold()
            ][: len(ln.options)]
            unit = unit_price(item, chosen)
            lines.append(
                order_repo.OrderLineFields(
                    menu_item_id=item.id,
                    sku=item.sku,
                    name=item.name,
                    qty=ln.qty,
                    unit_price=unit,
                    line_total=unit * ln.qty,
                    options=[
                        order_repo.OrderOption(group=o.group, choice=o.choice, price_delta=o.price_delta)
                        for o in chosen
                    ],
                    removed=ln.removed,
                )
            )
        subtotal = sum((x.line_total for x in lines), Decimal("0"))
        address = saved[0].model_dump(exclude={"id", "customer_id"}) if saved else {}
        order, _ = await order_repo.insert_order(
            conn,
            order_repo.NewOrder(
                tenant_id=tenant.id,
                customer_id=row.id,
                idempotency_key=f"eval-seed-{n}",
                status="delivered",
                payment_method=past.payment_method,
                change_for=None,
                subtotal=subtotal,
                delivery_fee=tenant.delivery_fee,
                total=subtotal + tenant.delivery_fee,
                address_id=saved[0].id if saved else None,
                address=address,
            ),
        )
        await order_repo.insert_items(conn, tenant.id, order.id, lines)
        # the oldest first, so the last seeded order is the customer's "last order"
        placed = datetime.now(UTC) - timedelta(days=past.days_ago, minutes=len(profile.past_orders) - n)
        await conn.execute("UPDATE orders SET created_at = %s WHERE id = %s", (placed, order.id))
        ids.add(order.id)
    return ids


async def pay_order(pool: Pool, tenant: Tenant, phone: str, seeded: set[int], when: datetime) -> str | None:
    """The customer pays their latest order on the pay page (what the provider's webhook then settles)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT p.id, p.order_id FROM payments p JOIN orders o ON o.id = p.order_id
                 JOIN customers c ON c.id = o.customer_id
               WHERE p.tenant_id = %s AND c.phone = %s AND p.status = 'pending' ORDER BY p.id DESC LIMIT 1""",
            (tenant.id, phone),
        )
        row = await cur.fetchone()
        if row is None or row["order_id"] in seeded:
            return "no pending payment to pay"
        payment = await payment_repo.get_payment(conn, tenant.id, row["id"])
        assert payment is not None
        async with conn.transaction():
            # as the provider's webhook does: the order moves through the one state machine
            await settle_paid(conn, payment, actor=payment.provider, paid_at=when)
    return None
