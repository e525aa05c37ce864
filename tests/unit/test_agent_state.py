"""The agents' state carries every conversation key a tool may write (a missing one fails the whole turn)."""

from __future__ import annotations

from graph.state import AgentState, ConversationState

# the parent graph's own bookkeeping: no agent or tool reads or writes these
PARENT_ONLY = {"route", "turns", "failures"}


def test_agent_state_has_every_conversation_key_but_the_parents_own() -> None:
    assert set(AgentState.__annotations__) == set(ConversationState.model_fields) - PARENT_ONLY
