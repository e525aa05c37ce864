"""The conversation state: typed pieces only, no bag of loose keys."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, ConfigDict, Field

from tools.cart.models import Cart, PendingLine
from tools.cart.views import HeldItem
from tools.customers.models import CustomerInfo, RegistrationDraft
from tools.memory.service import MemoryNote
from tools.orders.models import Checkout, OrderInfo

Intent = Literal["menu", "cart", "registration", "payment", "handoff", "smalltalk"]
INTENTS: tuple[Intent, ...] = ("menu", "cart", "registration", "payment", "handoff", "smalltalk")
Locale = Literal["pt-BR", "en"]


class RouteDecision(BaseModel):
    """Where the router sent this turn, how sure it was, and who decided (evals count model calls)."""

    model_config = ConfigDict(frozen=True)

    intent: Intent
    confidence: float
    decided_by: Literal["fast", "model", "rule"]
    reason: str = ""


class ConversationState(BaseModel):
    """Everything a conversation carries from turn to turn (checkpointed in Postgres)."""

    messages: Annotated[list[AnyMessage], add_messages] = Field(default_factory=list)
    locale: Locale = "pt-BR"
    customer: CustomerInfo | None = None
    # what the customer told this restaurant in earlier conversations, read at every turn's start
    memories: list[MemoryNote] = Field(default_factory=list)
    # what history trimming dropped, one line a message (tools/memory/summary.py)
    summary: str | None = None
    # a greeting turn's: the last order's items with an allergen the customer told us, which repeating it holds back
    # (the greeting names them rather than offer them as part of the usual); empty on every other turn
    usual_held: list[HeldItem] = Field(default_factory=list)
    cart: Cart = Field(default_factory=Cart)
    # an item waiting for a required choice ("qual tamanho?"); the next answer completes it
    pending: PendingLine | None = None
    checkout: Checkout = Field(default_factory=Checkout)
    registration: RegistrationDraft = Field(default_factory=RegistrationDraft)
    order: OrderInfo | None = None
    # the subgraph that spoke last and what it asked for: short answers ("sim", "grande") go back to it
    intent: Intent | None = None
    awaiting: str | None = None
    # the neighbourhood the bot asked "did you mean?" about last turn (a misspelt one); the customer's yes asks its fee
    suggested_place: str | None = None
    route: RouteDecision | None = None
    handoff: bool = False
    handoff_reason: str | None = None
    # consecutive turns the bot could not help with; two in a row open a handoff
    failures: int = 0
    turns: int = 0


class AgentState(TypedDict, total=False):
    """What an agent subgraph sees and may change: the conversation's keys its prompt and tools read or write.

    A plain TypedDict, not the pydantic model: LangGraph hands a subgraph's nodes the channel values as they are
    instead of re-validating the whole conversation at every step, and the keys it leaves out (route, turns,
    failures) stay the parent's business.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    locale: Locale
    customer: CustomerInfo | None
    memories: list[MemoryNote]
    summary: str | None
    usual_held: list[HeldItem]
    cart: Cart
    pending: PendingLine | None
    checkout: Checkout
    registration: RegistrationDraft
    order: OrderInfo | None
    intent: Intent | None
    awaiting: str | None
    suggested_place: str | None
    handoff: bool
    handoff_reason: str | None
