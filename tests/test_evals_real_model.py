"""The eval suite with a real model: the real Bedrock and OpenAI clients against loopback fakes of their APIs.

What a prompt engineer with an API key gets from `comanda eval run --model bedrock:...|openai:...`: every model
call of a turn counted, the router's structured-output call included (it leaves no message in the conversation,
so its tokens used to be recorded as 0), and a cost from the model's list price.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from fakes.bedrock_converse import FakeBedrock
from fakes.openai_chat import FakeOpenAI
from fakes.scripts import Answer, Brain, Script, Seen
from test_model_providers import (  # noqa: F401  (aws_env is a fixture)
    AWS_KEY,
    AWS_SECRET,
    BEDROCK_MODEL,
    OPENAI_KEY,
    PROVIDERS,
    UNSURE_MENU_QUESTION,
    answer_from_search,
    aws_env,
    call_search,
    is_router_call,
    routed,
)

from evals.metrics import cost_usd
from evals.runner import RunOptions, run_suite
from evals.scenario import load_suite
from graph.models import ModelConfig

MODELS = {"openai": "openai:gpt-4o-mini", "bedrock": f"bedrock:{BEDROCK_MODEL}"}


@contextlib.asynccontextmanager
async def serve(name: str, brain: Brain) -> AsyncIterator[tuple[FakeBedrock | FakeOpenAI, ModelConfig]]:
    """The fake `name` served, and the model configuration the eval runner builds its own client from."""
    if name == "bedrock":
        bedrock = FakeBedrock(brain, region="us-east-1", access_key=AWS_KEY, secret_key=AWS_SECRET)
        async with bedrock.serve() as url:
            yield (
                bedrock,
                ModelConfig(spec=MODELS[name], aws_region="us-east-1", bedrock_endpoint_url=url, max_retries=1),
            )
        return
    openai = FakeOpenAI(brain, api_key=OPENAI_KEY)
    async with openai.serve() as url:
        yield (
            openai,
            ModelConfig(spec=MODELS[name], openai_api_key=OPENAI_KEY, openai_base_url=f"{url}/v1", max_retries=1),
        )


def _estimate(seen: Seen) -> int:
    """The prompt tokens the fakes report: a quarter of the request's JSON (messages only for OpenAI)."""
    body = seen.raw["messages"] if seen.provider == "openai" else seen.raw
    compact = json.dumps(body) if seen.provider == "openai" else json.dumps(body, separators=(",", ":"))
    return max(1, len(compact) // 4)


def _suite(tmp_path: Path) -> Path:
    scenario = {
        "id": "real-model-unsure-question",
        "description": "A question the fast classifier is unsure about: the router asks the model.",
        "customer": {"name": "Ana Lima"},
        "turns": [{"say": UNSURE_MENU_QUESTION, "route": "menu"}],
        "expect": {"orders": 0},
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"scenarios": [scenario]}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_real_model_run_counts_every_call_and_prices_it(
    name: str,
    pg_base_url: str,
    tmp_path: Path,
    aws_env: None,  # noqa: F811
) -> None:
    scenarios = load_suite(str(_suite(tmp_path)))
    brain = routed(Answer(data={"intent": "menu"}), Script(call_search, answer_from_search))
    async with serve(name, brain) as (fake, config):
        results = await run_suite(scenarios, pg_base_url, RunOptions(model=config, concurrency=1))
    fake.assert_clean()
    requests = fake.requests
    assert sum(is_router_call(s) for s in requests) == 1 and len(requests) == 3

    trial = results.scenarios[0].trials[0]
    assert trial.outcome == "passed", trial.failures
    turn = trial.transcript[0]
    assert turn.route == "menu" and turn.decided_by == "model"
    # router + the menu agent's two calls, each with the tokens the provider reported
    assert turn.model_calls == 3 and trial.model_calls == 3
    # the sum of what the provider reported for all three, the router's long classification prompt included
    # (without it the count falls by about a third); the Bedrock body is re-serialised here, hence the tolerance
    router = next(s for s in requests if is_router_call(s))
    assert _estimate(router) > 0.2 * sum(_estimate(s) for s in requests)
    assert turn.tokens_in == pytest.approx(sum(_estimate(s) for s in requests), rel=0.03)
    assert trial.tokens_out > 0
    assert results.model == MODELS[name]
    assert trial.cost_usd == pytest.approx(cost_usd(MODELS[name], trial.tokens_in, trial.tokens_out))
    # the summary is rounded to the micro-dollar
    assert trial.cost_usd > 0 and results.summary.cost_usd == pytest.approx(trial.cost_usd, abs=1e-6)
