from conftest import DEMO_MENU
from memory.repos import tenants as tenant_repo
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.menu.search import search, resolve_item
import time

async def test_scratch(db, embedder):
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        t = await tenant_repo.by_slug(conn, "demo")
        for q in ["vegetariano", "margerita", "calabreza", "xsalada", "x salada", "coca", "refri", "bebidas", "drinks",
                  "algo com chocolate", "hamburguer", "batata", "breja", "suco", "pudim", "camarão", "pizza vegetariana",
                  "veggie burger", "coca zero", "sem gluten", "lanches", "sobremesa", "picante", "x-burger", "cerveja", "frango", "pizzas"]:
            t0 = time.perf_counter()
            o = await search(conn, t.id, q, embedder=embedder)
            dt = (time.perf_counter() - t0) * 1000
            print(f"{q!r:24} {dt:5.1f}ms v={o.used_vectors} tags={o.tags} cat={o.category} ->", [(r.name + ("" if r.available else "(X)")) for r in o.items])
        for q in ["pizza margherita grande", "coca", "coca lata", "calabresa", "x salada com bacon", "refri", "hamburguer", "pizza",
                  "PZ-MARG", "pizza margherita", "batata", "x-salada sem cebola", "uma pizza de frango com catupiry grande", "calabresa acebolada", "lasanha", "agua", "guarana"]:
            m = await resolve_item(conn, t.id, q, embedder)
            print(f"R {q!r:30}", m.status, m.item.name if m.item else None, m.leftover, m.suggestions)

async def test_dist(db, embedder):
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    from memory.repos import menu_search as repo
    async with db.connection() as conn:
        t = await tenant_repo.by_slug(conn, "demo")
        rows = {r.id: r.name for r in await repo.candidates(conn, t.id)}
        for q in ["algo com chocolate", "pudim", "camarão", "algo gelado pra beber", "something sweet", "frutos do mar", "algo leve"]:
            near = await repo.nearest(conn, t.id, embedder.query(q), limit=8)
            print(q, [(rows[i], round(d, 3)) for i, d in near])
