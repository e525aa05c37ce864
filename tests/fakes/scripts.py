"""What a fake model provider answers: response specs, a provider-neutral view of a request, scripted brains.

A brain is any callable `(Seen) -> Spec`. `Seen` is the request as the fake received it (`raw` is the exact JSON),
plus the parts a script usually needs (system prompt, offered tools, the tool results just sent back), read the same
way for Bedrock and OpenAI so one script can drive either fake.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field


class ToolUse(BaseModel):
    """One tool call the fake model makes."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None  # generated when omitted


class Say(BaseModel):
    """Answer with text and stop (Bedrock `end_turn`, OpenAI `stop`)."""

    text: str


class CallTools(BaseModel):
    """Call these tools (Bedrock `tool_use`, OpenAI `tool_calls`), optionally with some text before."""

    calls: list[ToolUse]
    text: str = ""


class Answer(BaseModel):
    """Structured output: `data` as the forced tool's input, or as the JSON content a response_format asked for."""

    data: dict[str, Any]


class Fail(BaseModel):
    """An error response: HTTP status and the provider's error code (e.g. 500 InternalServerException)."""

    status: int = 500
    code: str = ""
    message: str = "internal error"


Spec = Say | CallTools | Answer | Fail


class SeenToolResult(BaseModel):
    """A tool result the client sent back: its call id, the tool's name (from the call), text and parsed JSON."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None
    text: str
    data: Any = None  # the JSON value when the result is JSON
    status: str | None = None  # Bedrock "success" | "error"


class Seen(BaseModel):
    """A request as the fake received it, with provider-neutral accessors."""

    model_config = ConfigDict(frozen=True)

    provider: str  # "bedrock" | "openai"
    model: str
    raw: dict[str, Any]
    headers: dict[str, str]
    system: str
    tools: dict[str, dict[str, Any]]  # name → JSON schema of the arguments
    tool_descriptions: dict[str, str]
    forced_tool: str | None  # the tool the client forced (structured output), if any
    response_schema: dict[str, Any] | None  # OpenAI response_format json_schema, if any
    tool_results: list[SeenToolResult]  # those answering the last assistant message
    last_user_text: str

    def result(self, name: str) -> SeenToolResult:
        """The latest result of tool `name` in this request."""
        for r in reversed(self.tool_results):
            if r.name == name:
                return r
        raise LookupError(f"no result of {name!r} in this request; got {[r.name for r in self.tool_results]}")


Step = Spec | Callable[[Seen], Spec]


class Script:
    """A brain that answers requests in order from a queue; a request after the queue ran dry gets a 500."""

    def __init__(self, *steps: Step) -> None:
        self.steps: list[Step] = list(steps)

    def __call__(self, seen: Seen) -> Spec:
        """The next canned response (a callable step is given the request)."""
        if not self.steps:
            return Fail(status=500, code="ScriptExhausted", message="the test's script has no more responses")
        step = self.steps.pop(0)
        return step(seen) if callable(step) else step


Brain = Callable[[Seen], Spec]


def parse_json(text: str) -> Any:
    """`text` as JSON, or None."""
    try:
        return json.loads(text)
    except ValueError:
        return None


class ScriptError(Exception):
    """The test's brain answered something the real model could not (unknown tool, args against the schema)."""


def check_tool_use(call: ToolUse, seen: Seen) -> None:
    """A real model only calls offered tools with schema-shaped arguments: hold the script to the same."""
    schema = seen.tools.get(call.name)
    if schema is None:
        raise ScriptError(f"script calls {call.name!r}, not among the offered tools {sorted(seen.tools)}")
    try:
        jsonschema.validate(call.args, schema)
    except jsonschema.ValidationError as exc:
        raise ScriptError(f"script's arguments for {call.name!r} do not fit its schema: {exc.message}") from exc
