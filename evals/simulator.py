"""The customer's side of a conversation: scripted turns, or a chat model playing a customer with a goal."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from evals.results import TurnRecord

STOP = "###STOP###"

_INSTRUCTIONS = {
    "pt-BR": (
        "Você é um cliente de um restaurante conversando pelo WhatsApp com o atendente virtual. "
        "Seu objetivo: {goal}\n"
        "Escreva só a sua próxima mensagem, curta e informal, como um cliente brasileiro escreveria. "
        "Não invente informações que o objetivo não dá; se perguntarem algo que você não sabe, diga que não sabe. "
        "Quando o objetivo estiver cumprido (ou for impossível), responda exatamente " + STOP + "."
    ),
    "en": (
        "You are a restaurant customer chatting on WhatsApp with the restaurant's virtual assistant. "
        "Your goal: {goal}\n"
        "Write only your next message, short and casual. Don't invent information the goal doesn't give; if "
        "asked something you don't know, say so. When the goal is done (or impossible), reply exactly " + STOP + "."
    ),
}


class SimulatedUser:
    """A chat model that writes the customer's next message from the goal and the conversation so far."""

    def __init__(self, model: BaseChatModel, goal: str, locale: str) -> None:
        self.model = model
        self.system = _INSTRUCTIONS.get(locale, _INSTRUCTIONS["pt-BR"]).format(goal=goal)
        self.tokens_in = 0
        self.tokens_out = 0

    async def next_message(self, transcript: Sequence[TurnRecord]) -> str | None:
        """The customer's next message, or None when they are done."""
        # roles swap: for the simulator, the bot's replies are what it "hears"
        messages: list[BaseMessage] = [SystemMessage(self.system)]
        if not transcript:
            messages.append(HumanMessage("(a conversa começa: mande a primeira mensagem)"))
        for turn in transcript:
            messages.append(AIMessage("\n".join(turn.customer)))
            messages.append(HumanMessage("\n".join(turn.replies) or "(sem resposta)"))
        answer = await self.model.ainvoke(messages)
        if isinstance(answer, AIMessage) and answer.usage_metadata:
            self.tokens_in += answer.usage_metadata["input_tokens"]
            self.tokens_out += answer.usage_metadata["output_tokens"]
        text = answer.text.strip()
        if not text or STOP in text:
            return None
        return text
