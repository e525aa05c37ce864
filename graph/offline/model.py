"""The offline chat model: deterministic, pt-BR and English, with real tool calls through LangChain's interface.

It reads what any model reads (system prompt with its JSON context, the conversation, the tools it was
bound to, the tool results) and answers with tool calls or text. What it says comes from the prompt set's
replies, so prompt engineers edit its words like everything else the bot says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from graph.offline import policies
from graph.offline.policies import Decision
from graph.offline.view import read
from prompts import PromptSet, load_prompt_set


class OfflineChatModel(BaseChatModel):
    """A rule-based chat model good enough to order a meal with, and honest when it doesn't understand."""

    prompt_set: str | None = None

    @property
    def _llm_type(self) -> str:
        return "comanda-offline"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": "comanda-offline", "prompts": self.prompt_set or "default"}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools as OpenAI-style schemas (what every provider's model receives)."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _prompts(self) -> PromptSet:
        return load_prompt_set(self.prompt_set)

    def _decide(self, messages: list[BaseMessage], tools: Sequence[dict[str, Any]]) -> AIMessage:
        view = read(messages, tools)
        decision: Decision = policies.decide(view, self._prompts())
        tool_calls = [
            {"name": name, "args": args, "id": _call_id(messages, name, args, i), "type": "tool_call"}
            for i, (name, args) in enumerate(decision.tool_calls)
        ]
        text = decision.text or ""
        return AIMessage(
            content=text,
            tool_calls=tool_calls,
            response_metadata={"model_name": "comanda-offline", "comanda_understood": decision.understood},
            usage_metadata={
                "input_tokens": view.prompt_tokens,
                "output_tokens": len(text.split()) + 8 * len(tool_calls),
                "total_tokens": view.prompt_tokens + len(text.split()) + 8 * len(tool_calls),
            },
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._decide(messages, kwargs.get("tools", [])))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # pure CPU and fast: no thread hop (the default would run _generate in an executor)
        return self._generate(messages, stop, None, **kwargs)


def _call_id(messages: Sequence[BaseMessage], name: str, args: dict[str, Any], index: int) -> str:
    seed = f"{len(messages)}|{messages[-1].text if messages else ''}|{name}|{json.dumps(args, sort_keys=True)}|{index}"
    return "call_" + hashlib.sha1(seed.encode()).hexdigest()[:16]
