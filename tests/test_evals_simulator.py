"""The simulated customer: writes from its goal and the bot's replies, and stops when it says it is done."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from evals.results import TurnRecord
from evals.simulator import STOP, SimulatedUser


async def test_the_simulated_customer_talks_until_it_says_stop() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("quero 1 x-salada"), AIMessage(f"valeu! {STOP}")]))
    user = SimulatedUser(model, "Peça 1 X-Salada.", "pt-BR")
    assert "Peça 1 X-Salada." in user.system
    first = await user.next_message([])
    assert first == "quero 1 x-salada"
    done = await user.next_message([TurnRecord(customer=[first], replies=["Anotado! Mais alguma coisa?"])])
    assert done is None
