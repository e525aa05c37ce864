"""Real tool-calling turns through the real Bedrock and OpenAI clients, against loopback fakes of their APIs.

The fakes check the wire contract (signatures, keys, tool call/result pairing) and record what the client sent,
so these tests prove that our tools' schemas, system prompts and results survive the trip to a real provider.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import DEMO_MENU
from fakes.bedrock_converse import FakeBedrock
from fakes.openai_chat import FakeOpenAI
from fakes.scripts import Answer, Brain, CallTools, Fail, Say, Script, Seen, Spec, ToolUse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.graph import START, StateGraph

from graph.agents import menu
from graph.classifier import FastClassifier
from graph.models import ModelConfig, make_chat_model
from graph.state import AgentState, ConversationState
from memory.db import Pool
from memory.embeddings import Embedder
from memory.repos import tenants as tenant_repo
from prompts import load_prompt_set
from tools.context import TurnContext
from tools.menu.importer import import_menu
from tools.menu.menu_file import parse_json
from tools.menu.tools import MENU_TOOLS

PHONE = "+5511976543210"
BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
AWS_KEY, AWS_SECRET = "AKIAFAKEFAKEFAKE0001", "fake-secret-for-sigv4"
OPENAI_KEY = "sk-test"
RESTAURANT = "Brasa & Forno Burger e Pizzaria"
# a Friday 20:00 in São Paulo: the demo restaurant is open
OPEN_CLOCK = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
VEGGIE_QUESTION = "tem opção vegetariana?"
# the fast classifier leans to menu without being sure: the router asks the model
UNSURE_MENU_QUESTION = "vocês tem algo sem carne pro meu filho que é chato pra comer?"
UNSURE_FALLBACK_MENU = "e aquele negócio que vcs fazem com queijo?"
PROVIDERS = ["bedrock", "openai"]

Fake = FakeBedrock | FakeOpenAI


@dataclass
class Provider:
    """A fake provider being served and the real LangChain client pointed at it."""

    name: str
    fake: Fake
    model: BaseChatModel


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy static AWS credentials only: no profile, no instance metadata, no Bedrock API key."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    # botocore retries throttling and 5xx by itself: one retry keeps the outage tests quick
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    yield


@pytest.fixture
async def ctx(db: Pool, embedder: Embedder) -> TurnContext:
    """A customer of the demo restaurant (menu imported), at a time it is open."""
    await import_menu(db, "demo", parse_json(DEMO_MENU.read_text()), embedder)
    async with db.connection() as conn:
        tenant = await tenant_repo.by_slug(conn, "demo")
    assert tenant is not None
    return TurnContext(pool=db, tenant=tenant, phone=PHONE, clock=lambda: OPEN_CLOCK, extras={"embedder": embedder})


@contextlib.asynccontextmanager
async def serve(name: str, brain: Brain) -> AsyncIterator[Provider]:
    """Serve the fake `name` and build our configured chat model against it."""
    if name == "bedrock":
        bedrock = FakeBedrock(brain, region="us-east-1", access_key=AWS_KEY, secret_key=AWS_SECRET)
        async with bedrock.serve() as url:
            config = ModelConfig(
                spec=f"bedrock:{BEDROCK_MODEL}", aws_region="us-east-1", bedrock_endpoint_url=url, max_retries=1
            )
            yield Provider(name, bedrock, make_chat_model(config))
        return
    openai = FakeOpenAI(brain, api_key=OPENAI_KEY)
    async with openai.serve() as url:
        config = ModelConfig(
            spec="openai:gpt-4o-mini", openai_api_key=OPENAI_KEY, openai_base_url=f"{url}/v1", max_retries=1
        )
        yield Provider(name, openai, make_chat_model(config))


async def vegetarian_names(db: Pool) -> set[str]:
    """What the demo restaurant sells as vegetarian today, straight from the database."""
    async with db.connection() as conn:
        cur = await conn.execute("SELECT name FROM menu_items WHERE 'vegetariano' = ANY(tags) AND available")
        return {r["name"] for r in await cur.fetchall()}


def call_search(seen: Seen) -> Spec:
    """The model looks the diet up, as a real one would for this question."""
    return CallTools(calls=[ToolUse(name="search_menu", args={"query": "opção vegetariana", "tag": "vegetariano"})])


def answer_from_search(seen: Seen) -> Spec:
    """The model answers quoting the items and prices the tool returned."""
    items = seen.result("search_menu").data["items"]
    return Say(text="Temos sim! " + "; ".join(f"{i['name']} ({i['price_text']})" for i in items[:4]))


def is_router_call(seen: Seen) -> bool:
    """The router's structured-output request (a forced RouteChoice tool or a RouteChoice json_schema)."""
    return "RouteChoice" in (seen.forced_tool, (seen.response_schema or {}).get("title"))


def routed(router: Spec, agent: Brain) -> Brain:
    """Answer the router's classification with `router` and every subgraph call with `agent`."""

    def brain(seen: Seen) -> Spec:
        return router if is_router_call(seen) else agent(seen)

    return brain


def assert_asked_for_veggies(provider: Provider, veggies: set[str], expected_tools: set[str]) -> None:
    """What the client sent: our tool schemas (no hidden runtime), the restaurant's prompt, the real DB results."""
    provider.fake.assert_clean()
    agent_calls = [s for s in provider.fake.requests if not is_router_call(s)]
    first, second = agent_calls
    assert set(first.tools) == expected_tools
    schema = first.tools["search_menu"]
    assert set(schema["properties"]) == {"query", "category", "tag", "limit"}
    assert "runtime" not in json.dumps(first.tools)
    assert "diet" in first.tool_descriptions["search_menu"]
    assert RESTAURANT in first.system
    assert first.last_user_text == VEGGIE_QUESTION
    result = second.result("search_menu")
    assert result.data["kind"] == "menu_search"
    names = {i["name"] for i in result.data["items"]}
    assert names and names <= veggies
    assert "Pudim de Leite Condensado" not in names  # vegetarian but unavailable today
    assert RESTAURANT in second.system


# --- through one agent ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
async def test_menu_agent_answers_a_diet_question_through_the_provider(
    name: str, ctx: TurnContext, db: Pool, aws_env: None
) -> None:
    veggies = await vegetarian_names(db)
    async with serve(name, Script(call_search, answer_from_search)) as provider:
        # the menu agent alone, as the one node of a graph
        g = StateGraph(ConversationState, context_schema=TurnContext)
        g.add_node("menu", menu.build(provider.model, load_prompt_set()), input_schema=AgentState)
        g.add_edge(START, "menu")
        agent = g.compile()
        out = await agent.ainvoke(ConversationState(messages=[HumanMessage(VEGGIE_QUESTION)]), context=ctx)
    state = ConversationState.model_validate(out)
    reply = state.messages[-1]
    assert isinstance(reply, AIMessage) and not reply.tool_calls
    assert reply.text.startswith("Temos sim! ")
    assert any(v in reply.text for v in veggies) and "R$" in reply.text
    tool_messages = [m for m in state.messages if isinstance(m, ToolMessage)]
    assert len(tool_messages) == 1 and json.loads(tool_messages[0].text)["kind"] == "menu_search"
    assert reply.usage_metadata and reply.usage_metadata["input_tokens"] > 0
    assert_asked_for_veggies(provider, veggies, {"search_menu", "item_details", "opening_hours", "delivery_fee"})
    if name == "bedrock":
        signed = provider.fake.requests[0].headers["authorization"]
        assert signed.startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY}/") and "/us-east-1/bedrock/" in signed
        assert provider.fake.requests[0].model == BEDROCK_MODEL
    else:
        assert provider.fake.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert provider.fake.requests[0].model == "gpt-4o-mini"


# --- through the whole conversation graph ---------------------------------------------------------------------


async def full_runner(db: Pool, model: BaseChatModel) -> Any:
    """The production graph with Postgres checkpoints, around `model`."""
    from graph.graph import build_graph
    from graph.runner import ConversationRunner
    from memory.checkpointer import make_checkpointer

    return ConversationRunner(build_graph(model, load_prompt_set(), checkpointer=await make_checkpointer(db)))


@pytest.mark.parametrize("name", PROVIDERS)
async def test_whole_turn_answers_a_diet_question_through_the_provider(
    name: str, ctx: TurnContext, db: Pool, aws_env: None
) -> None:
    veggies = await vegetarian_names(db)
    async with serve(
        name, routed(Fail(message="the router should not need the model"), Script(call_search, answer_from_search))
    ) as provider:
        runner = await full_runner(db, provider.model)
        result = await runner.run_turn(ctx, [VEGGIE_QUESTION], ["SM-veg-1"])
    assert len(result.replies) == 1 and result.replies[0].startswith("Temos sim! ")
    assert any(v in result.replies[0] for v in veggies)
    assert result.route is not None and result.route.intent == "menu" and result.route.decided_by == "fast"
    assert [t.name for t in result.tool_calls] == ["search_menu"]
    assert json.loads(result.tool_calls[0].result)["kind"] == "menu_search"
    assert all(c.tokens_in > 0 and c.tokens_out > 0 for c in result.model_calls)
    assert not any(is_router_call(s) for s in provider.fake.requests)
    assert_asked_for_veggies(provider, veggies, {"search_menu", "item_details", "opening_hours", "delivery_fee"})


@pytest.mark.parametrize("name", PROVIDERS)
async def test_router_asks_the_provider_when_the_fast_classifier_is_unsure(
    name: str, ctx: TurnContext, db: Pool, aws_env: None
) -> None:
    prompts = load_prompt_set()
    fast = FastClassifier({i: [e.text for e in ex] for i, ex in prompts.routing_examples().items()})
    guess = fast.classify(UNSURE_MENU_QUESTION)
    assert guess is not None and not guess.confident  # the premise: this message needs the model
    veggies = await vegetarian_names(db)
    async with serve(
        name, routed(Answer(data={"intent": "menu"}), Script(call_search, answer_from_search))
    ) as provider:
        runner = await full_runner(db, provider.model)
        result = await runner.run_turn(ctx, [UNSURE_MENU_QUESTION], ["SM-unsure-1"])
    provider.fake.assert_clean()
    assert result.route is not None and result.route.intent == "menu" and result.route.decided_by == "model"
    assert len(result.replies) == 1 and any(v in result.replies[0] for v in veggies)
    router_calls = [s for s in provider.fake.requests if is_router_call(s)]
    assert len(router_calls) == 1 and len(provider.fake.requests) == 3
    routing = router_calls[0]
    assert routing.last_user_text == UNSURE_MENU_QUESTION
    intents = (
        set(routing.tools["RouteChoice"]["properties"]["intent"]["enum"])
        if name == "bedrock"
        else set(
            routing.response_schema["properties"]["intent"]["enum"]  # type: ignore[index]
        )
    )
    assert intents == {"menu", "cart", "registration", "payment", "handoff", "smalltalk"}
    assert result.model_calls[0].node == "router"
    # the router's structured-output call counts its tokens (it leaves no message carrying them)
    assert result.model_calls[0].tokens_in > 0 and result.model_calls[0].tokens_out > 0


@pytest.mark.parametrize("outage", [Fail(status=500, message="boom"), Fail(status=429, message="Too many requests")])
@pytest.mark.parametrize("name", PROVIDERS)
async def test_provider_outage_in_the_router_does_not_lose_the_turn(
    name: str, outage: Fail, ctx: TurnContext, db: Pool, aws_env: None
) -> None:
    answer = Say(text="Temos pizza de quatro queijos e pizza de mussarela, quer ver os preços?")
    async with serve(name, routed(outage, Script(answer))) as provider:
        runner = await full_runner(db, provider.model)
        result = await runner.run_turn(ctx, [UNSURE_FALLBACK_MENU], ["SM-outage-1"])
    provider.fake.assert_clean()
    assert result.replies == [answer.text]
    assert result.route is not None and result.route.decided_by == "fast" and result.route.reason == "model failed"
    assert result.route.intent == "menu"
    router_calls = [s for s in provider.fake.requests if is_router_call(s)]
    assert len(router_calls) == 2  # the client retried once, as configured, before the router gave up


# --- the fakes hold the client to the providers' contracts ----------------------------------------------------


async def test_bedrock_fake_refuses_unsigned_and_badly_signed_requests(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bedrock = FakeBedrock(Script(Say(text="oi")), access_key=AWS_KEY, secret_key=AWS_SECRET)
    async with bedrock.serve() as url:
        async with httpx.AsyncClient() as client:
            unsigned = await client.post(f"{url}/model/{BEDROCK_MODEL}/converse", json={"messages": []})
        assert unsigned.status_code == 403
        assert unsigned.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        model = make_chat_model(
            ModelConfig(spec=f"bedrock:{BEDROCK_MODEL}", aws_region="us-east-1", bedrock_endpoint_url=url)
        )
        with pytest.raises(Exception, match="signature"):
            await model.ainvoke([HumanMessage("oi")])
    assert [r.code for r in bedrock.rejections][-1] == "InvalidSignatureException"
    assert bedrock.requests == []


@pytest.mark.parametrize("name", PROVIDERS)
async def test_fakes_refuse_a_tool_call_left_without_its_result(name: str, aws_env: None) -> None:
    async with serve(name, Script(Say(text="oi"))) as provider:
        model = provider.model.bind_tools(MENU_TOOLS)
        dangling = AIMessage("", tool_calls=[{"name": "delivery_fee", "args": {}, "id": "call_1", "type": "tool_call"}])
        with pytest.raises(Exception, match=r"(?i)tool"):
            await model.ainvoke([HumanMessage("qual a taxa?"), dangling, HumanMessage("oi?")])
    assert provider.fake.requests == []
    assert provider.fake.rejections and provider.fake.rejections[0].status == 400


async def test_openai_fake_refuses_a_wrong_key() -> None:
    openai = FakeOpenAI(Script(Say(text="oi")), api_key=OPENAI_KEY)
    async with openai.serve() as url:
        model = make_chat_model(
            ModelConfig(
                spec="openai:gpt-4o-mini", openai_api_key="sk-wrong", openai_base_url=f"{url}/v1", max_retries=0
            )
        )
        with pytest.raises(Exception, match=r"(?i)api key"):
            await model.ainvoke([HumanMessage("oi")])
    assert [r.status for r in openai.rejections] == [401]
