"""The run context: what a run of the graph is told about the restaurant and the customer.

Our own callers (the worker, `comanda chat`, evals, tests) pass a `TurnContext` with the pool, the tenant and the
payment provider in it. LangGraph Platform and Studio can only pass JSON, so the graph they run is built with
`ConversationContext` (tenant slug and phone, plain and serialisable) as its context schema, bound to a resolver
the composition root provides (comanda/studio.py: the pool and the payment provider are the process's, built
from settings). Nodes and tools never see the difference: they ask `turn_context` for the TurnContext.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from tools.context import TurnContext


class ConversationContext(BaseModel):
    """The run context as LangGraph Platform and Studio send it: which restaurant, which customer."""

    model_config = ConfigDict(frozen=True, title="ConversationContext")

    tenant: str = Field("demo", description="The restaurant's slug (`comanda tenants list`).")
    phone: str = Field("+5511999990000", description="The customer's WhatsApp number, E.164.")
    _turn: TurnContext | None = PrivateAttr(None)

    async def turn_context(self) -> TurnContext:
        """The TurnContext of this run, resolved once (the platform makes one context object per run)."""
        if self._turn is None:
            self._turn = await self.resolve()
        return self._turn

    async def resolve(self) -> TurnContext:
        """Look the tenant up and build the TurnContext; `resolved_by` binds how."""
        raise TypeError("ConversationContext has no resolver: build the graph with ConversationContext.resolved_by")

    @classmethod
    def resolved_by(cls, resolve: Callable[[ConversationContext], Awaitable[TurnContext]]) -> type[ConversationContext]:
        """This context class, its instances turned into TurnContexts by `resolve`."""

        class Resolved(cls):  # type: ignore[valid-type,misc]
            async def resolve(self) -> TurnContext:
                return await resolve(self)

        Resolved.__name__ = Resolved.__qualname__ = cls.__name__
        return Resolved


RunContext = TurnContext | ConversationContext


async def turn_context(context: RunContext) -> TurnContext:
    """The TurnContext nodes and tools work with, whichever kind of context the run was given."""
    return context if isinstance(context, TurnContext) else await context.turn_context()
