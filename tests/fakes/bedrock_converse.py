"""A loopback fake of the Amazon Bedrock Converse API (`POST /model/{modelId}/converse`), driven by a test's brain.

It checks what the service checks before a model sees anything — a SigV4 signature (verified when the fake knows
the secret key), the message/tool-block rules that raise ValidationException — and answers in the Converse
response shape, so the real botocore/langchain-aws client runs unmodified against it. Streaming
(`converse-stream`) is not implemented: the client must not use it.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
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

SERVICE = "bedrock"  # the SigV4 signing name of bedrock-runtime
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)
_DEFAULT_CODES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_BLOCK_KINDS = ("text", "image", "document", "video", "toolUse", "toolResult", "reasoningContent", "cachePoint")


class Rejection(BaseModel):
    """A request the fake refused the way the service would (status, AWS error code, message)."""

    model_config = ConfigDict(frozen=True)

    status: int
    code: str
    message: str


class _Invalid(Exception):
    def __init__(self, message: str, status: int = 400, code: str = "ValidationException") -> None:
        super().__init__(message)
        self.rejection = Rejection(status=status, code=code, message=message)


def aws_error(status: int, code: str, message: str) -> JSONResponse:
    """An error in the AWS rest-json shape botocore parses (code in `x-amzn-ErrorType`)."""
    return JSONResponse(
        {"message": message},
        status_code=status,
        headers={
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


class FakeBedrock:
    """The fake service: set `brain`, serve it, point `ChatBedrockConverse(endpoint_url=...)` at `url`.

    `requests` records every accepted request (as `Seen`), `rejections` every refused one, `script_errors` every
    answer of the brain that a real model could not have given; `assert_clean()` fails the test on the last two.
    """

    def __init__(
        self,
        brain: Brain,
        *,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        self.brain = brain
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.requests: list[Seen] = []
        self.rejections: list[Rejection] = []
        self.script_errors: list[str] = []
        self.url = ""
        self.app = self._build_app()

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """Run on a loopback port; yields the endpoint URL."""
        async with live_server(self.app) as url:
            self.url = url
            yield url

    def assert_clean(self) -> None:
        """No request was refused and the brain never answered something impossible."""
        assert not self.rejections, self.rejections
        assert not self.script_errors, self.script_errors

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/model/{model_id:path}/converse")
        async def converse(model_id: str, request: Request) -> Response:
            body = await request.body()
            try:
                self._check_auth(request, body)
                try:
                    raw = json.loads(body)
                except ValueError as exc:
                    raise _Invalid("Request body is not valid JSON") from exc
                if not isinstance(raw, dict):
                    raise _Invalid("Request body must be a JSON object")
                validate_request(raw)
            except _Invalid as bad:
                self.rejections.append(bad.rejection)
                return aws_error(bad.rejection.status, bad.rejection.code, bad.rejection.message)
            seen = seen_request(model_id, raw, {k.lower(): v for k, v in request.headers.items()})
            self.requests.append(seen)
            started = time.perf_counter()
            try:
                spec = self.brain(seen)
                if isinstance(spec, Fail):
                    code = spec.code or _DEFAULT_CODES.get(spec.status, "InternalServerException")
                    return aws_error(spec.status, code, spec.message)
                content, stop = response_content(spec, seen)
            except ScriptError as exc:
                self.script_errors.append(str(exc))
                return aws_error(500, "InternalServerException", f"fake script error: {exc}")
            tokens_in = max(1, len(body) // 4)
            tokens_out = max(1, len(json.dumps(content)) // 4)
            return JSONResponse(
                {
                    "output": {"message": {"role": "assistant", "content": content}},
                    "stopReason": stop,
                    "usage": {
                        "inputTokens": tokens_in,
                        "outputTokens": tokens_out,
                        "totalTokens": tokens_in + tokens_out,
                    },
                    "metrics": {"latencyMs": max(1, int((time.perf_counter() - started) * 1000))},
                },
                headers={"x-amzn-RequestId": str(uuid.uuid4())},
            )

        @app.post("/model/{model_id:path}/converse-stream")
        async def converse_stream(model_id: str) -> Response:
            message = "this fake does not implement converse-stream"
            self.rejections.append(Rejection(status=400, code="ValidationException", message=message))
            return aws_error(400, "ValidationException", message)

        return app

    def _check_auth(self, request: Request, body: bytes) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise _Invalid("Missing Authentication Token", 403, "MissingAuthenticationTokenException")
        m = _AUTH.match(header)
        if m is None:
            raise _Invalid(
                "Authorization header requires AWS4-HMAC-SHA256 signature", 403, "IncompleteSignatureException"
            )
        amz_date = request.headers.get("x-amz-date", "")
        if not amz_date.startswith(m["date"]):
            raise _Invalid("Date in Credential scope does not match X-Amz-Date", 403, "InvalidSignatureException")
        if m["region"] != self.region or m["service"] != SERVICE:
            raise _Invalid(
                f"Credential should be scoped to a valid region and service: expected {self.region}/{SERVICE}",
                403,
                "InvalidSignatureException",
            )
        if self.access_key is not None and m["akid"] != self.access_key:
            raise _Invalid("The security token included in the request is invalid.", 403, "UnrecognizedClientException")
        if self.secret_key is not None:
            expected = sigv4_signature(
                method=request.method,
                raw_path=request.scope["raw_path"].decode(),
                query=request.scope["query_string"].decode(),
                headers={k.lower(): v for k, v in request.headers.items()},
                signed=m["signed"].split(";"),
                body=body,
                amz_date=amz_date,
                access_key=m["akid"],
                secret_key=self.secret_key,
                region=self.region,
            )
            if not secrets.compare_digest(expected, m["sig"]):
                raise _Invalid(
                    "The request signature we calculated does not match the signature you provided.",
                    403,
                    "InvalidSignatureException",
                )


def sigv4_signature(
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    signed: list[str],
    body: bytes,
    amz_date: str,
    access_key: str,
    secret_key: str,
    region: str,
) -> str:
    """The SigV4 signature the service computes for this request from the headers the client said it signed."""
    url = f"http://{headers.get('host', '')}{raw_path}" + (f"?{query}" if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed})
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret_key), SERVICE, region)
    canonical = signer.canonical_request(req)
    return str(signer.signature(signer.string_to_sign(req, canonical), req))


def validate_request(raw: dict[str, Any]) -> None:
    """Refuse what the Converse API refuses with a ValidationException (messages, tool blocks, toolConfig)."""
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Invalid("The messages field is required and must contain at least one message.")
    tools = _validate_tool_config(raw.get("toolConfig"))
    for i, block in enumerate(raw.get("system") or []):
        if not isinstance(block, dict) or not (
            ("text" in block and str(block["text"]).strip()) or "cachePoint" in block
        ):
            raise _Invalid(f"The text field in the SystemContentBlock object at system.{i} is blank.")
    inference = raw.get("inferenceConfig") or {}
    if "maxTokens" in inference and (not isinstance(inference["maxTokens"], int) or inference["maxTokens"] < 1):
        raise _Invalid("inferenceConfig.maxTokens: must be at least 1")
    if "temperature" in inference and not 0 <= float(inference["temperature"]) <= 1:
        raise _Invalid("inferenceConfig.temperature: must be between 0 and 1")
    uses_tools = False
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role not in ("user", "assistant"):
            raise _Invalid(f"messages.{i}.role: must be one of [user, assistant]")
        if i == 0 and role != "user":
            raise _Invalid(
                "A conversation must start with a user message. "
                "Try again with a conversation that starts with a user message."
            )
        if i > 0 and messages[i - 1].get("role") == role:
            raise _Invalid(
                "A conversation must alternate between user and assistant roles. Make sure the conversation "
                "alternates between user and assistant roles and try again."
            )
        content = msg.get("content")
        if not isinstance(content, list) or not content:
            raise _Invalid(
                f"The content field in the Message object at messages.{i} is empty. "
                "Add a ContentBlock object to the content field and try again."
            )
        for j, block in enumerate(content):
            kinds = [k for k in _BLOCK_KINDS if k in block]
            if len(kinds) != 1:
                raise _Invalid(
                    f"messages.{i}.content.{j}: a ContentBlock must hold exactly one member, got {sorted(block)}"
                )
            kind = kinds[0]
            if kind == "text" and not str(block["text"]).strip():
                raise _Invalid(
                    f"The text field in the ContentBlock object at messages.{i}.content.{j} is blank. "
                    "Add text to the text field, and try again."
                )
            if kind == "toolUse":
                uses_tools = True
                if role != "assistant":
                    raise _Invalid(f"messages.{i}.content.{j}: toolUse blocks are only allowed in assistant messages")
                use = block["toolUse"]
                if not isinstance(use.get("input"), dict) or not use.get("toolUseId"):
                    raise _Invalid(f"messages.{i}.content.{j}.toolUse: toolUseId and an object input are required")
                if tools is not None and use.get("name") not in tools:
                    raise _Invalid(
                        f"messages.{i}.content.{j}.toolUse.name: tool {use.get('name')!r} is not defined in toolConfig"
                    )
            if kind == "toolResult":
                uses_tools = True
                if role != "user":
                    raise _Invalid(f"messages.{i}.content.{j}: toolResult blocks are only allowed in user messages")
                _validate_tool_result(block["toolResult"], f"messages.{i}.content.{j}.toolResult")
        _check_tool_pairing(messages, i)
    if uses_tools and tools is None:
        raise _Invalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")


def _validate_tool_config(config: Any) -> set[str] | None:
    if config is None:
        return None
    specs = config.get("tools")
    if not isinstance(specs, list) or not specs:
        raise _Invalid("toolConfig.tools: must contain at least one tool")
    names: set[str] = set()
    for k, entry in enumerate(specs):
        spec = entry.get("toolSpec") if isinstance(entry, dict) else None
        if spec is None:
            if isinstance(entry, dict) and "cachePoint" in entry:
                continue
            raise _Invalid(f"toolConfig.tools.{k}: a toolSpec is required")
        name = spec.get("name", "")
        if not _TOOL_NAME.match(name):
            raise _Invalid(f"toolConfig.tools.{k}.toolSpec.name: must match [a-zA-Z0-9_-]{{1,64}}")
        if name in names:
            raise _Invalid(f"toolConfig.tools: the tool name {name} is duplicated")
        schema = (spec.get("inputSchema") or {}).get("json")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise _Invalid(f"toolConfig.tools.{k}.toolSpec.inputSchema.json: must be a JSON schema of type object")
        names.add(name)
    choice = config.get("toolChoice")
    if choice is not None:
        if not isinstance(choice, dict) or len(choice) != 1 or next(iter(choice)) not in ("auto", "any", "tool"):
            raise _Invalid("toolConfig.toolChoice: must be one of auto, any, tool")
        if "tool" in choice and choice["tool"].get("name") not in names:
            raise _Invalid(f"toolConfig.toolChoice.tool.name: {choice['tool'].get('name')!r} is not a defined tool")
    return names


def _validate_tool_result(result: Any, where: str) -> None:
    if not isinstance(result, dict) or not result.get("toolUseId"):
        raise _Invalid(f"{where}.toolUseId: required")
    content = result.get("content")
    if not isinstance(content, list):
        raise _Invalid(f"{where}.content: required")
    for k, part in enumerate(content):
        if (
            not isinstance(part, dict)
            or len(part) != 1
            or next(iter(part)) not in ("text", "json", "image", "document")
        ):
            raise _Invalid(f"{where}.content.{k}: must hold one of text, json, image, document")
    if result.get("status") not in (None, "success", "error"):
        raise _Invalid(f"{where}.status: must be success or error")


def _ids(message: dict[str, Any], kind: str) -> list[str]:
    key = "toolUseId"
    return [b[kind][key] for b in message.get("content") or [] if isinstance(b, dict) and kind in b]


def _check_tool_pairing(messages: list[dict[str, Any]], i: int) -> None:
    """toolUse ids of an assistant message are answered by the next user message, and only those."""
    msg = messages[i]
    if msg["role"] == "assistant":
        uses = _ids(msg, "toolUse")
        if uses:
            answered = set(_ids(messages[i + 1], "toolResult")) if i + 1 < len(messages) else set()
            missing = [u for u in uses if u not in answered]
            if missing:
                raise _Invalid(
                    f"Expected toolResult blocks at messages.{i + 1}.content "
                    f"for the following Ids: {', '.join(missing)}"
                )
    else:
        results = _ids(msg, "toolResult")
        if results:
            previous = set(_ids(messages[i - 1], "toolUse")) if i > 0 else set()
            unknown = [r for r in results if r not in previous]
            if unknown or len(results) > len(previous):
                raise _Invalid(
                    f"The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks "
                    f"of previous turn (unknown toolUseId: {', '.join(unknown) or '-'})."
                )


def seen_request(model_id: str, raw: dict[str, Any], headers: dict[str, str]) -> Seen:
    """The provider-neutral view of a Converse request."""
    config = raw.get("toolConfig") or {}
    specs = [t["toolSpec"] for t in config.get("tools", []) if "toolSpec" in t]
    messages = raw["messages"]
    last = messages[-1]
    results: list[SeenToolResult] = []
    if last["role"] == "user" and len(messages) > 1:
        names = {b["toolUse"]["toolUseId"]: b["toolUse"]["name"] for b in messages[-2]["content"] if "toolUse" in b}
        for block in last["content"]:
            if "toolResult" in block:
                tr = block["toolResult"]
                texts = [p["text"] for p in tr["content"] if "text" in p]
                jsons = [p["json"] for p in tr["content"] if "json" in p]
                text = "\n".join(texts) if texts else json.dumps(jsons[0] if len(jsons) == 1 else jsons)
                data = jsons[0] if len(jsons) == 1 and not texts else parse_json(text)
                results.append(
                    SeenToolResult(
                        id=tr["toolUseId"],
                        name=names.get(tr["toolUseId"]),
                        text=text,
                        data=data,
                        status=tr.get("status"),
                    )
                )
    user_texts = [m for m in messages if m["role"] == "user" and any("text" in b for b in m["content"])]
    return Seen(
        provider="bedrock",
        model=model_id,
        raw=raw,
        headers=headers,
        system="\n".join(b["text"] for b in raw.get("system") or [] if "text" in b),
        tools={s["name"]: s["inputSchema"]["json"] for s in specs},
        tool_descriptions={s["name"]: s.get("description", "") for s in specs},
        forced_tool=(config.get("toolChoice") or {}).get("tool", {}).get("name"),
        response_schema=None,
        tool_results=results,
        last_user_text="\n".join(b["text"] for b in user_texts[-1]["content"] if "text" in b) if user_texts else "",
    )


def _tool_use_id() -> str:
    return "tooluse_" + secrets.token_urlsafe(16)[:22]


def response_content(spec: Spec, seen: Seen) -> tuple[list[dict[str, Any]], str]:
    """The assistant content blocks and stopReason for a brain's answer."""
    if isinstance(spec, Say):
        return [{"text": spec.text}], "end_turn"
    if isinstance(spec, CallTools):
        blocks: list[dict[str, Any]] = [{"text": spec.text}] if spec.text else []
        for call in spec.calls:
            check_tool_use(call, seen)
            blocks.append({"toolUse": {"toolUseId": call.id or _tool_use_id(), "name": call.name, "input": call.args}})
        return blocks, "tool_use"
    if isinstance(spec, Answer):
        name = seen.forced_tool or (next(iter(seen.tools)) if len(seen.tools) == 1 else None)
        if name is None:
            raise ScriptError("Answer needs a forced tool (toolChoice) or a single offered tool")
        call = ToolUse(name=name, args=spec.data)
        check_tool_use(call, seen)
        return [{"toolUse": {"toolUseId": _tool_use_id(), "name": name, "input": spec.data}}], "tool_use"
    raise ScriptError(f"unexpected spec {spec!r}")
