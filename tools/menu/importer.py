"""Menu import: all-or-nothing, idempotent, and never deleting an item (orders keep pointing at it)."""

from __future__ import annotations

import asyncio
import hashlib

from pydantic import BaseModel

from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import delivery_areas as delivery_repo
from memory.repos import menu as menu_repo
from memory.repos import tenants as tenant_repo
from tools.menu.menu_file import InvalidMenuFile, ItemFile, MenuFile, MenuFileError, delivery_setup


class ImportReport(BaseModel):
    """What an import changed."""

    tenant: str
    tenant_created: bool = False
    tenant_updated: bool = False
    delivery_areas_updated: bool = False  # the file's delivery_areas (and coordinates) replaced the stored ones
    added: list[str] = []
    updated: list[str] = []
    unchanged: int = 0
    made_unavailable: list[str] = []
    reordered: int = 0

    @property
    def changed(self) -> bool:
        """False when the import wrote nothing at all."""
        return bool(
            self.tenant_created
            or self.tenant_updated
            or self.delivery_areas_updated
            or self.added
            or self.updated
            or self.made_unavailable
            or self.reordered
        )


def _fingerprint(item: ItemFile) -> str:
    # position is left out: moving an item must not re-embed it
    return hashlib.sha256(item.model_dump_json().encode()).hexdigest()


def _embedding_text(item: ItemFile) -> str:
    return f"{item.name}. {item.category}. {item.description} {' '.join(item.tags)}".strip()


async def import_menu(pool: Pool, slug: str, menu: MenuFile, embedder: Embedder) -> ImportReport:
    """Write a validated menu to the tenant `slug` in one transaction; returns what changed."""
    if menu.restaurant is not None and menu.restaurant.slug != slug:
        raise InvalidMenuFile(
            [
                MenuFileError(
                    where="restaurant",
                    field="slug",
                    message=f"the file is for {menu.restaurant.slug!r}, not for --tenant {slug!r}",
                )
            ]
        )
    async with pool.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, slug)
        known = await menu_repo.source_hashes(conn, tenant.id) if tenant else {}
    if tenant is None and menu.restaurant is None:
        raise InvalidMenuFile(
            [
                MenuFileError(
                    where="file",
                    field="restaurant",
                    message=f"tenant {slug!r} does not exist: add it with `comanda tenants add` "
                    "or import a JSON file with its restaurant block",
                )
            ]
        )
    report = ImportReport(tenant=slug)
    fields = [
        menu_repo.MenuItemFields(
            **item.model_dump(exclude={"options"}),
            options=[menu_repo.OptionGroup.model_validate(g.model_dump()) for g in item.options],
            position=pos,
            source_hash=_fingerprint(item),
        )
        for pos, item in enumerate(menu.items)
    ]
    to_write = [
        (f, item)
        for f, item in zip(fields, menu.items, strict=True)
        if known.get(f.sku, ("", False))[0] != f.source_hash
    ]
    # embeddings are CPU work: compute them before the transaction so it stays short
    vectors = await asyncio.to_thread(embedder.passages, [_embedding_text(item) for _, item in to_write])
    file_skus = {f.sku for f in fields}
    async with pool.connection() as conn, conn.transaction():
        if menu.restaurant is not None:
            tenant_fields = tenant_repo.TenantFields.model_validate(menu.restaurant.model_dump())
            if tenant is None:
                tenant = await tenant_repo.insert(conn, tenant_fields)
                report.tenant_created = True
            else:
                report.tenant_updated = await tenant_repo.update_if_changed(conn, tenant.id, tenant_fields)
        assert tenant is not None
        # without the key the areas set by `comanda tenants delivery-areas` stay; [] removes them
        if menu.restaurant is not None and menu.restaurant.delivery_areas is not None:
            report.delivery_areas_updated = await delivery_repo.replace(
                conn, tenant.id, delivery_setup(menu.restaurant)
            )
        for (f, _), vector in zip(to_write, vectors, strict=True):
            await menu_repo.upsert(conn, tenant.id, f, vector)
            (report.updated if f.sku in known else report.added).append(f.sku)
        gone = sorted(sku for sku, (_, available) in known.items() if sku not in file_skus and available)
        await menu_repo.make_unavailable(conn, tenant.id, gone)
        report.made_unavailable = gone
        report.reordered = await menu_repo.set_positions(conn, tenant.id, {f.sku: f.position for f in fields})
        report.unchanged = len(fields) - len(to_write)
    return report
