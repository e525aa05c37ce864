"""A misspelt neighbourhood ("Vila Madalema", "Pinheros") is asked about, never refused as outside every area nor
fuzzy-matched into a fee: the delivery_fee tool names the one area neighbourhood it is very close to, the bot asks
"Você quis dizer *Vila Madalena*?", and a yes gets that neighbourhood's fee from the tool. Conversations run through
the real graph with the offline model and Postgres."""

from __future__ import annotations

from decimal import Decimal

from conversation_support import Chat, make_runner
from delivery_support import CANTINA, PLACES, restaurant_ctx
from tool_harness import call_tool, result

from graph.state import ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos.delivery_areas import DeliveryArea, DeliverySetup
from tools.delivery.areas import near_place
from tools.menu.tools import MENU_TOOLS

BANDS = DeliverySetup(
    latitude=-23.589, longitude=-46.635, areas=[DeliveryArea(name="até 3 km", fee=Decimal("6.00"), max_km=Decimal("3"))]
)


def test_a_misspelt_neighbourhood_is_near_one_area_name_and_nothing_else_is() -> None:
    assert near_place(PLACES, "Pinheros") == "Pinheiros"
    assert near_place(PLACES, "perdises") == "Perdizes"
    assert near_place(PLACES, "Pompea") == "Pompéia"  # as the area spells it
    # named after all, another neighbourhood, too far off, empty: nothing to ask
    for not_near in ("pinheiros", "Moema", "Perdiz", "Alto de Pinheiros", "", "05422-010"):
        assert near_place(PLACES, not_near) is None, not_near
    # a guess between two neighbourhoods is no guess
    twins = DeliverySetup(
        areas=[
            DeliveryArea(name="A", fee=Decimal("5.00"), neighborhoods=["Vila Madalena"]),
            DeliveryArea(name="B", fee=Decimal("6.00"), neighborhoods=["Vila Madaleno"]),
        ]
    )
    assert near_place(twins, "Vila Madalene") is None
    assert near_place(BANDS, "Vila Mariana") is None  # radius bands name no neighbourhood


async def test_delivery_fee_for_a_misspelt_place_asks_and_quotes_nothing(db: Pool, embedder: Embedder) -> None:
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    _, messages = await call_tool(
        MENU_TOOLS, "delivery_fee", {"place": "Vila Madalema"}, state=ConversationState(), ctx=ctx
    )
    asked = result(messages)
    assert asked["did_you_mean"] == "Vila Madalena" and not asked["outside"] and asked["fee"] is None


async def test_conversation_a_misspelt_neighbourhood_is_asked_about_and_a_yes_gets_its_fee(
    db: Pool, embedder: Embedder
) -> None:
    # "Vila Madalema" was read as outside every area: the customer was told the restaurant doesn't deliver there
    ctx = await restaurant_ctx(db, embedder, CANTINA)
    chat = Chat(await make_runner(db), ctx)
    asked = await chat.say("vocês entregam na Vila Madalema?")
    assert "Você quis dizer *Vila Madalena*?" in asked and "não entregamos" not in asked, chat.dump()
    assert "R$" not in asked, chat.dump()  # no fee before the customer's yes
    fee = await chat.say("sim")
    assert "Vila Madalena" in fee and "R$ 7,00" in fee, chat.dump()
    assert chat.last and chat.last.state and chat.last.state.awaiting is None, chat.dump()

    again = await chat.say("qual a taxa pra Pinheros?")
    assert "Você quis dizer *Pinheiros*?" in again, chat.dump()
    no = await chat.say("não")
    assert "R$" not in no and "bairro" in no, chat.dump()
    assert chat.last and chat.last.state and chat.last.state.suggested_place is None, chat.dump()
