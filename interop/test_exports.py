"""Chat records and training exports, checked with the openai package's own types.

An agent's LLM calls reach the collector as OTel GenAI spans through Agent
Lightning's tracer exporter (POST {store}/v1/traces). The messages connector
turns each call into an OpenAI chat record, and GET /v1/lightning/export
streams the datasets. The SFT file must be what an OpenAI fine-tuning job
accepts: every message validates as openai's ChatCompletionMessageParam,
tools as ChatCompletionToolParam, tool_calls carry string arguments, tool
results answer an earlier call, the system prompt comes first and the last
message is the assistant's.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any, Dict, List

import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic import TypeAdapter

import harness
from agentlightning.store.client_server import LightningStoreClient
from agentlightning.utils.otlp import LightningStoreOTLPExporter
from helpers import eventually

pytestmark = [pytest.mark.otlp, pytest.mark.collector_only]

Messages = TypeAdapter(List[ChatCompletionMessageParam])
Tools = TypeAdapter(List[ChatCompletionToolParam])

TOOLS = [{"type": "function", "name": "get_weather", "description": "Current weather",
          "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]
USER = {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
CALL = {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"location": "Paris"}}]}
RESULT = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 57°F"}]}


def run_agent(endpoint: str, rollout_id: str, attempt_id: str) -> None:
    """Two chat calls of a tool-using agent, with token ids, and a reward."""
    exporter = LightningStoreOTLPExporter()
    exporter.enable_store_otlp(endpoint, rollout_id, attempt_id)
    provider = TracerProvider(resource=Resource.create({"service.name": "interop-exports"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("interop")
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "qwen",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You report the weather."}]),
        "gen_ai.tool.definitions": json.dumps(TOOLS),
    }
    with tracer.start_as_current_span("invoke_agent weather", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("chat qwen", attributes={
            **common, "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.input.messages": json.dumps([USER]),
            "gen_ai.output.messages": json.dumps([{**CALL, "finish_reason": "tool_call"}]),
            "prompt_token_ids": [1, 2, 3], "response_token_ids": [4, 5],
        }):
            pass
        with tracer.start_as_current_span("chat qwen", attributes={
            **common, "gen_ai.response.id": "chatcmpl-2",
            "gen_ai.input.messages": json.dumps([USER, CALL, RESULT]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Rainy, 57°F."}], "finish_reason": "stop"}]),
            "prompt_token_ids": [1, 2, 3, 4, 5, 6, 7], "response_token_ids": [8, 9],
        }):
            pass
        with tracer.start_as_current_span("agentlightning.annotation", attributes={
            "agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": 1.0,
        }):
            pass
    provider.shutdown()


def get_lines(url: str) -> List[Dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/x-ndjson"
        return [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]


async def lines_when(url: str, count: int) -> List[Dict[str, Any]]:
    async def probe() -> List[Dict[str, Any]]:
        return await asyncio.to_thread(get_lines, url)

    lines = await eventually(probe, lambda ls: len(ls) >= count, timeout=15)
    assert len(lines) == count, f"expected {count} lines from {url}, got {len(lines)}"
    return lines


def check_fine_tuning_example(example: Dict[str, Any]) -> None:
    assert set(example) <= {"messages", "tools", "parallel_tool_calls"}
    messages = example["messages"]
    Messages.validate_python(messages)
    Tools.validate_python(example.get("tools", []))
    assert messages[0]["role"] == "system"
    assert all(m["role"] != "system" for m in messages[1:])
    assert messages[-1]["role"] == "assistant"
    calls = set()
    for m in messages:
        for tc in m.get("tool_calls", []):
            # openai's TypedDicts accept an object here; fine-tuning does not.
            assert isinstance(tc["function"]["arguments"], str)
            json.loads(tc["function"]["arguments"])
            calls.add(tc["id"])
        if m["role"] == "tool":
            assert m["tool_call_id"] in calls


async def test_sft_export_is_an_openai_fine_tuning_file(client: LightningStoreClient, collector: harness.StoreProcess) -> None:
    started = await client.start_rollout(input={"city": "Paris"}, mode="train")
    rid, aid = started.rollout_id, started.attempt.attempt_id
    await asyncio.to_thread(run_agent, client.otlp_traces_endpoint(), rid, aid)

    base = f"{collector.url}/v1/lightning"
    # One chat record per call, in call order, each an OpenAI request + completion.
    records = await eventually(
        lambda: asyncio.to_thread(lambda: json.load(urllib.request.urlopen(f"{base}/rollouts/{rid}/messages", timeout=10))["items"]),
        lambda items: len(items) >= 2, timeout=15)
    assert [r["attributes"]["gen_ai.response.id"] for r in records] == ["chatcmpl-1", "chatcmpl-2"]
    for r in records:
        Messages.validate_python(r["messages"] + [{k: v for k, v in r["completion"].items() if k != "finish_reason"}])
    assert records[1]["attributes"]["agentlightning.reward.0.value"] == 1.0

    for granularity, count in (("conversation", 1), ("call", 2)):
        sft = await lines_when(f"{base}/export?format=sft&granularity={granularity}&rollout_id={rid}", count)
        for example in sft:
            check_fine_tuning_example(example)
    assert [m["role"] for m in sft[-1]["messages"]] == ["system", "user", "assistant", "tool", "assistant"]

    # Triplets come once the attempt ends; trajectories merge the two calls.
    await client.update_attempt(rid, aid, status="succeeded")
    triplets = await lines_when(f"{base}/export?format=triplets&rollout_id={rid}", 2)
    assert [t["reward"] for t in triplets] == [None, 1.0]
    rows = await lines_when(f"{base}/export?format=trajectories&rollout_id={rid}", 1)
    assert rows[0]["prompt_ids"] == [1, 2, 3]
    assert rows[0]["response_ids"] == [4, 5, 6, 7, 8, 9]
    assert rows[0]["loss_mask"] == [1, 1, 0, 0, 1, 1]
    assert rows[0]["reward"] == 1.0
