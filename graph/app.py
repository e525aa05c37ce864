"""The compiled graph as `langgraph.json` exposes it (LangGraph Platform / `langgraph dev` supply the checkpointer).

The model comes from `COMANDA_MODEL` (default `offline`); callers pass a `TurnContext` as the run context.
"""

from __future__ import annotations

import os

from graph.graph import build_graph
from graph.models import ModelConfig, make_chat_model

graph = build_graph(
    make_chat_model(
        ModelConfig(
            spec=os.environ.get("COMANDA_MODEL", "offline"),
            aws_region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
            bedrock_endpoint_url=os.environ.get("COMANDA_BEDROCK_ENDPOINT_URL"),
            openai_api_key=os.environ.get("OPENAI_API_KEY"),
            openai_base_url=os.environ.get("OPENAI_BASE_URL"),
        )
    )
)
