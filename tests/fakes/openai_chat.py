"""A loopback fake of the OpenAI chat completions API (`POST /v1/chat/completions`), driven by a test's brain.

It checks what the API checks before a model sees anything — the Bearer key, tool messages answering every tool
call of the assistant message before them, known tool names, strict json_schema rules — and answers in the
chat.completion shape, so the real openai/langchain-openai client runs unmodified against it. Streaming is not
implemented: the client must not ask for it.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import jsonschema
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from support import live_server

from fakes.scripts import (
    Answer,
    Brain,
    CallTools,
    Fail,
    Say,
    ScriptError,
    Seen,
    SeenToolResult,
    Spec,
    ToolUse,
    check_tool_use,
    parse_json,
)

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ROLES = ("system", "developer", "user", "assistant", "tool")
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


class Rejection(BaseModel):
    """A request the fake refused the way the API would (status, error code, message, param)."""

    model_config = ConfigDict(frozen=True)

    status: int
    code: str | None
    message: str
    param: str | None = None


class _Invalid(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.rejection = Rejection(status=status, code=code, message=message, param=param)


def openai_error(status: int, message: str, *, code: str | None = None, param: str | None = None) -> JSONResponse:
    """An error in the OpenAI shape the client parses into APIStatusError subclasses."""
    kind, default_code = _ERROR_TYPES.get(status, ("server_error", None))
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code or default_code}},
        status_code=status,
        headers={"x-request-id": "req_" + secrets.token_hex(16)},
    )


class FakeOpenAI:
    """The fake API: set `brain`, serve it, point `ChatOpenAI(base_url=f"{url}/v1")` at it.

    `requests` records every accepted request (as `Seen`), `rejections` every refused one, `script_errors` every
    answer of the brain that a real model could not have given; `assert_clean()` fails the test on the last two.
    """

    def __init__(self, brain: Brain, *, api_key: str | None = None) -> None:
        self.brain = brain
        self.api_key = api_key
        self.requests: list[Seen] = []
        self.rejections: list[Rejection] = []
        self.script_errors: list[str] = []
        self.url = ""
        self.app = self._build_app()

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Run on a loopback port; yields the base URL (the client's base_url is this + "/v1")."""
        async with live_server(self.app) as url:
            self.url = url
            yield url

    def assert_clean(self) -> None:
        """No request was refused and the brain never answered something impossible."""
        assert not self.rejections, self.rejections
        assert not self.script_errors, self.script_errors

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            try:
                self._check_auth(request.headers.get("authorization"))
                try:
                    raw = json.loads(await request.body())
                except ValueError as exc:
                    raise _Invalid("We could not parse the JSON body of your request.") from exc
                if not isinstance(raw, dict):
                    raise _Invalid("The request body must be a JSON object.")
                validate_request(raw)
            except _Invalid as bad:
                r = bad.rejection
                self.rejections.append(r)
                return openai_error(r.status, r.message, code=r.code, param=r.param)
            seen = seen_request(raw, {k.lower(): v for k, v in request.headers.items()})
            self.requests.append(seen)
            try:
                spec = self.brain(seen)
                if isinstance(spec, Fail):
                    return openai_error(spec.status, spec.message, code=spec.code or None)
                message, finish = response_message(spec, seen)
            except ScriptError as exc:
                self.script_errors.append(str(exc))
                return openai_error(500, f"fake script error: {exc}")
            tokens_in = max(1, len(json.dumps(raw["messages"])) // 4)
            tokens_out = max(1, len(json.dumps(message)) // 4)
            return JSONResponse(
                {
                    "id": "chatcmpl-" + secrets.token_urlsafe(21),
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": raw["model"],
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                    "usage": {
                        "prompt_tokens": tokens_in,
                        "completion_tokens": tokens_out,
                        "total_tokens": tokens_in + tokens_out,
                    },
                    "service_tier": "default",
                    "system_fingerprint": "fp_fake",
                },
                headers={"x-request-id": "req_" + secrets.token_hex(16)},
            )

        return app

    def _check_auth(self, header: str | None) -> None:
        if not header or not header.startswith("Bearer ") or not header.removeprefix("Bearer ").strip():
            raise _Invalid(
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                status=401,
                code=None,
            )
        if self.api_key is not None and header.removeprefix("Bearer ").strip() != self.api_key:
            raise _Invalid("Incorrect API key provided.", status=401, code="invalid_api_key")


def validate_request(raw: dict[str, Any]) -> None:
    """Refuse what the API refuses with a 400 (messages, tool calls and results, tools, response_format)."""
    if not isinstance(raw.get("model"), str) or not raw["model"]:
        raise _Invalid("you must provide a model parameter", param="model")
    if raw.get("stream"):
        raise _Invalid("this fake does not implement streaming", param="stream")
    if raw.get("n", 1) != 1:
        raise _Invalid("this fake answers one choice only", param="n")
    tools = _validate_tools(raw.get("tools"))
    _validate_tool_choice(raw.get("tool_choice"), tools)
    _validate_response_format(raw.get("response_format"))
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Invalid("[] is too short - 'messages'", param="messages")
    open_calls: set[str] = set()  # tool calls of the last assistant message not answered yet
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in _ROLES:
            raise _Invalid(f"Invalid value for 'role': {role!r}.", param=f"messages.[{i}].role")
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in open_calls:
                raise _Invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    param=f"messages.[{i}].role",
                )
            open_calls.discard(call_id)
            if not isinstance(msg.get("content"), (str, list)):
                raise _Invalid("Missing required parameter: 'content'.", param=f"messages.[{i}].content")
            continue
        if open_calls:
            raise _Invalid(_unanswered(open_calls), param=f"messages.[{i}].role")
        if role == "assistant" and msg.get("tool_calls"):
            for k, call in enumerate(msg["tool_calls"]):
                where = f"messages.[{i}].tool_calls.[{k}]"
                fn = call.get("function") or {}
                if call.get("type") != "function" or not call.get("id"):
                    raise _Invalid("Missing required parameter: 'id' or invalid 'type'.", param=where)
                if not isinstance(fn.get("arguments"), str) or not isinstance(parse_json(fn["arguments"]), dict):
                    raise _Invalid(
                        "'arguments' must be a JSON object encoded as a string.", param=f"{where}.function.arguments"
                    )
                if fn.get("name") not in tools:
                    raise _Invalid(
                        f"Tool {fn.get('name')!r} is not among the request's tools.", param=f"{where}.function.name"
                    )
                open_calls.add(call["id"])
        elif role != "assistant" and msg.get("content") in (None, ""):
            raise _Invalid("Invalid value for 'content': expected a string, got null.", param=f"messages.[{i}].content")
    if open_calls:
        raise _Invalid(_unanswered(open_calls), param="messages")


def _unanswered(ids: set[str]) -> str:
    return (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(sorted(ids))}"
    )


def _validate_tools(tools: Any) -> dict[str, dict[str, Any]]:
    if tools is None:
        return {}
    if not isinstance(tools, list) or not tools:
        raise _Invalid("[] is too short - 'tools'", param="tools")
    names: dict[str, dict[str, Any]] = {}
    for k, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        if fn is None:
            raise _Invalid("Missing required parameter: 'tools[0].function'.", param=f"tools[{k}]")
        name = fn.get("name", "")
        if not _TOOL_NAME.match(name):
            raise _Invalid(
                f"Invalid 'tools[{k}].function.name': string does not match pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"tools[{k}].function.name",
            )
        params = fn.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict) or params.get("type") != "object":
            raise _Invalid(
                f"Invalid schema for function '{name}': schema must be a JSON Schema of 'type: \"object\"'.",
                param=f"tools[{k}].function.parameters",
            )
        if fn.get("strict"):
            _check_strict(params, f"function '{name}'")
        names[name] = params
    return names


def _validate_tool_choice(choice: Any, tools: dict[str, dict[str, Any]]) -> None:
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise _Invalid(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.", param="tool_choice"
            )
        if choice == "required" and not tools:
            raise _Invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                param="tool_choice",
            )
        return
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if name not in tools:
        raise _Invalid(
            f"Invalid 'tool_choice': no function named {name!r} was specified in the 'tools' parameter.",
            param="tool_choice",
        )


def _validate_response_format(fmt: Any) -> None:
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise _Invalid(
            f"Invalid value: {kind!r}. Supported values are: 'text', 'json_object', and 'json_schema'.",
            param="response_format.type",
        )
    if kind == "json_schema":
        spec = fmt.get("json_schema") or {}
        if not spec.get("name") or not isinstance(spec.get("schema"), dict):
            raise _Invalid(
                "Missing required parameter: 'response_format.json_schema.name' or 'schema'.",
                param="response_format.json_schema",
            )
        if spec.get("strict"):
            _check_strict(spec["schema"], f"response_format '{spec['name']}'")


def _check_strict(schema: dict[str, Any], what: str) -> None:
    """Strict mode's rules: every object closes additionalProperties and requires all of its properties."""
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            raise _Invalid(
                f"Invalid schema for {what}: 'additionalProperties' is required to be supplied and to be false."
            )
        if sorted(schema.get("required", [])) != sorted(props):
            raise _Invalid(
                f"Invalid schema for {what}: 'required' is required to be supplied "
                "and to be an array including every key in properties."
            )
        for sub in props.values():
            _check_strict(sub, what)
    subs: list[Any] = [schema.get("items"), *schema.get("anyOf", []), *(schema.get("$defs") or {}).values()]
    for sub in subs:
        if isinstance(sub, dict):
            _check_strict(sub, what)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def seen_request(raw: dict[str, Any], headers: dict[str, str]) -> Seen:
    """The provider-neutral view of a chat completions request."""
    messages = raw["messages"]
    functions = [t["function"] for t in raw.get("tools") or []]
    results: list[SeenToolResult] = []
    tail = len(messages)
    while tail > 0 and messages[tail - 1]["role"] == "tool":
        tail -= 1
    if tail < len(messages) and tail > 0:
        names = {c["id"]: c["function"]["name"] for c in messages[tail - 1].get("tool_calls") or []}
        for m in messages[tail:]:
            text = _text(m["content"])
            results.append(
                SeenToolResult(
                    id=m["tool_call_id"], name=names.get(m["tool_call_id"]), text=text, data=parse_json(text)
                )
            )
    choice = raw.get("tool_choice")
    fmt = raw.get("response_format") or {}
    users = [m for m in messages if m["role"] == "user"]
    return Seen(
        provider="openai",
        model=raw["model"],
        raw=raw,
        headers=headers,
        system="\n".join(_text(m["content"]) for m in messages if m["role"] in ("system", "developer")),
        tools={f["name"]: f.get("parameters", {"type": "object", "properties": {}}) for f in functions},
        tool_descriptions={f["name"]: f.get("description", "") for f in functions},
        forced_tool=(choice.get("function") or {}).get("name") if isinstance(choice, dict) else None,
        response_schema=(fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None,
        tool_results=results,
        last_user_text=_text(users[-1]["content"]) if users else "",
    )


def _call_id() -> str:
    return "call_" + secrets.token_urlsafe(18)[:24]


def _tool_call(call: ToolUse) -> dict[str, Any]:
    return {
        "id": call.id or _call_id(),
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.args, ensure_ascii=False)},
    }


def response_message(spec: Spec, seen: Seen) -> tuple[dict[str, Any], str]:
    """The assistant message and finish_reason for a brain's answer."""
    base: dict[str, Any] = {"role": "assistant", "refusal": None, "annotations": []}
    if isinstance(spec, Say):
        return {**base, "content": spec.text}, "stop"
    if isinstance(spec, CallTools):
        for call in spec.calls:
            check_tool_use(call, seen)
        return {**base, "content": spec.text or None, "tool_calls": [_tool_call(c) for c in spec.calls]}, "tool_calls"
    if isinstance(spec, Answer):
        if seen.response_schema is not None:
            try:
                jsonschema.validate(spec.data, seen.response_schema)
            except jsonschema.ValidationError as exc:
                raise ScriptError(f"Answer does not fit the response_format schema: {exc.message}") from exc
            return {**base, "content": json.dumps(spec.data, ensure_ascii=False)}, "stop"
        if seen.forced_tool is not None:
            call = ToolUse(name=seen.forced_tool, args=spec.data)
            check_tool_use(call, seen)
            return {**base, "content": None, "tool_calls": [_tool_call(call)]}, "tool_calls"
        raise ScriptError("Answer needs a response_format json_schema or a forced tool_choice")
    raise ScriptError(f"unexpected spec {spec!r}")
