"""The collector's LLM proxy (llmproxy receiver) with real clients.

Two vLLM mocks (internal/llmmock -vllm, fixed creation time) answer in
lockstep: one behind the collector's proxy, one called directly. Every test
sends each request once to both, so the two mocks' response counters stay
equal and the proxied answer must be byte for byte the direct one: the
proxy asks vLLM for token ids and log-probs and strips them again.

Then the stored side: the proxy's span of each call carries the exact token
ids and log-probs the mock produced, under the rollout and attempt named by
the URL (Agent Lightning v0.3's ProxyLLM prefix), and the attempt's triplets
carry the ids. Last, a real Agent Lightning 0.3.0 runner runs an agent whose
LLM resource is a `proxy_llm`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import anthropic
import openai
import pytest

import harness
from agentlightning import LitAgentRunner
from agentlightning.litagent.decorator import llm_rollout
from agentlightning.store.client_server import LightningStoreClient
from agentlightning.tracer.otel import OtelTracer
from agentlightning.types import LLM, ProxyLLM
from helpers import eventually
from test_runner import mock_token_ids

pytestmark = pytest.mark.collector_only

REPLY = "The answer is 4."
CREATED = "1767225600"
EOS = 2  # the mock's end-of-sequence token id
TOOLS = [{"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}]


def mock_logprob(token_id: int) -> float:
    return -((token_id % 997) + 1) / 1000


def reply_ids(text: str) -> List[int]:
    return mock_token_ids(text) + [EOS]


def prompt_ids(messages: List[Dict[str, str]]) -> List[int]:
    return mock_token_ids("\n".join(f"{m['role']}: {m['content']}" for m in messages))


def start_mock(binary: Path, workdir: Path) -> harness.LLMMock:
    return harness.LLMMock(binary, workdir, reply=REPLY, extra_args=["-vllm", "-created", CREATED]).start()


@pytest.fixture(scope="module")
def proxy_env(
    llmmock_binary: Path, collector_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuple[harness.Collector, harness.LLMMock, harness.LLMMock]]:
    behind = start_mock(llmmock_binary, tmp_path_factory.mktemp("vllm-behind"))
    direct = start_mock(llmmock_binary, tmp_path_factory.mktemp("vllm-direct"))
    proc = harness.Collector(
        collector_binary, tmp_path_factory.mktemp("proxy"), "proxy", extra_env={"LIGHTNING_LLM_UPSTREAM": behind.url + "/v1"}
    )
    try:
        proc.start()
    except RuntimeError as err:
        behind.stop()
        direct.stop()
        pytest.fail(str(err), pytrace=False)
    yield proc, behind, direct
    proc.stop()
    behind.stop()
    direct.stop()


def clients(env, rollout: str, attempt: str) -> Tuple[openai.OpenAI, openai.OpenAI]:
    proc, _, direct = env
    proxied = openai.OpenAI(base_url=f"{proc.proxy_url}/rollout/{rollout}/attempt/{attempt}/v1", api_key="k", max_retries=0)
    plain = openai.OpenAI(base_url=direct.url + "/v1", api_key="k", max_retries=0)
    return proxied, plain


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def post_json(url: str, body: Any) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


async def stored_spans(proc: harness.Collector, rollout: str, attempt: str, count: int) -> List[Dict[str, Any]]:
    async def query():
        return post_json(proc.url + "/v1/agl/spans/search", {"rollout_id": rollout, "attempt_id": attempt})["items"]

    # D19: a call's span is committed before its answer, so no wait is needed;
    # eventually() only reports a clear error if that ever breaks.
    return await eventually(query, lambda items: len(items) >= count, timeout=2)


async def triplets(proc: harness.Collector, rollout: str, attempt: str, count: int) -> List[Dict[str, Any]]:
    async def query():
        return get_json(f"{proc.url}/v1/lightning/rollouts/{rollout}/triplets?attempt_id={attempt}")["items"]

    return await eventually(query, lambda items: len(items) >= count, timeout=30, interval=0.2)


def check_span(span: Dict[str, Any], messages: List[Dict[str, str]], response: List[int]) -> None:
    attrs = span["attributes"]
    assert attrs["prompt_token_ids"] == prompt_ids(messages)
    assert attrs["response_token_ids"] == response
    logprobs = json.loads(attrs["logprobs.content"])
    assert [item["logprob"] for item in logprobs] == [mock_logprob(i) for i in response]
    assert attrs["llmproxy.token_capture"] == "captured"


async def test_chat_with_tools_and_streaming_openai_sdk(proxy_env) -> None:
    proc = proxy_env[0]
    rollout, attempt = "ro-py-chat", "at-1"
    proxied, plain = clients(proxy_env, rollout, attempt)
    question = [{"role": "user", "content": "What is 2 + 2?"}]

    # 1. Non-streamed chat with tools: the model calls the tool.
    got = proxied.chat.completions.with_raw_response.create(model="qwen", messages=question, tools=TOOLS)
    want = plain.chat.completions.with_raw_response.create(model="qwen", messages=question, tools=TOOLS)
    assert got.http_response.content == want.http_response.content
    call = got.parse().choices[0].message.tool_calls[0]
    assert call.function.name == "calc" and json.loads(call.function.arguments) == {"query": "What is 2 + 2?"}

    # 2. The tool result goes back; the streamed answer is text.
    followup = question + [
        {"role": "assistant", "content": "", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "4"},
    ]
    with proxied.chat.completions.with_streaming_response.create(model="qwen", messages=followup, tools=TOOLS, stream=True) as g:
        got_bytes = b"".join(g.iter_bytes())
    with plain.chat.completions.with_streaming_response.create(model="qwen", messages=followup, tools=TOOLS, stream=True) as w:
        want_bytes = b"".join(w.iter_bytes())
    assert got_bytes == want_bytes
    assert got_bytes.endswith(b"data: [DONE]\n\n")

    # 3. The SDK's own stream reassembly through the proxy (another prompt:
    # the triplet processor drops a call whose prompt ids repeat, a retry).
    other = [{"role": "user", "content": "What is 1 + 3?"}]
    text = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in proxied.chat.completions.create(model="qwen", messages=other, stream=True)
        if chunk.choices
    )
    plain.chat.completions.create(model="qwen", messages=other, stream=True).close()  # lockstep
    assert text == REPLY

    spans = await stored_spans(proc, rollout, attempt, 3)
    assert len(spans) == 3
    tool_args = json.dumps({"query": "What is 2 + 2?"}, separators=(",", ":"))
    check_span(spans[0], question, reply_ids(tool_args))
    followup_text = [{"role": m["role"], "content": m["content"]} for m in followup]
    check_span(spans[1], followup_text, reply_ids(REPLY))
    check_span(spans[2], other, reply_ids(REPLY))
    assert json.loads(spans[0]["attributes"]["gen_ai.output.messages"])[0]["parts"][0]["name"] == "calc"

    items = await triplets(proc, rollout, attempt, 3)
    assert [t["prompt"]["token_ids"] for t in items] == [prompt_ids(question), prompt_ids(followup_text), prompt_ids(other)]
    assert [t["response"]["token_ids"] for t in items] == [reply_ids(tool_args), reply_ids(REPLY), reply_ids(REPLY)]


async def test_completions_openai_sdk(proxy_env) -> None:
    proc = proxy_env[0]
    rollout, attempt = "ro-py-completions", "at-1"
    proxied, plain = clients(proxy_env, rollout, attempt)
    got = proxied.completions.with_raw_response.create(model="qwen", prompt="Say hello")
    want = plain.completions.with_raw_response.create(model="qwen", prompt="Say hello")
    assert got.http_response.content == want.http_response.content
    assert got.parse().choices[0].text == REPLY

    with proxied.completions.with_streaming_response.create(model="qwen", prompt="Say hello", stream=True) as g:
        got_bytes = b"".join(g.iter_bytes())
    with plain.completions.with_streaming_response.create(model="qwen", prompt="Say hello", stream=True) as w:
        want_bytes = b"".join(w.iter_bytes())
    assert got_bytes == want_bytes

    spans = await stored_spans(proc, rollout, attempt, 2)
    for span in spans:
        attrs = span["attributes"]
        assert attrs["gen_ai.operation.name"] == "text_completion"
        assert attrs["prompt_token_ids"] == mock_token_ids("Say hello")
        assert attrs["response_token_ids"] == reply_ids(REPLY)
        assert [i["logprob"] for i in json.loads(attrs["logprobs.content"])] == [mock_logprob(i) for i in reply_ids(REPLY)]


NODE_DIR = Path(__file__).parent / "node"


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "openai").is_dir(),
    reason="needs Node.js and interop/node/node_modules (interop/setup.sh installs it when Node.js is present)",
)
async def test_openai_node_sdk(proxy_env) -> None:
    """The OpenAI Node SDK (interop/node/proxy_client.mjs): the answers are
    byte for byte the direct ones; the spans carry the exact ids."""
    proc, _, direct = proxy_env
    rollout, attempt = "ro-node", "at-1"
    result = subprocess.run(
        ["node", str(NODE_DIR / "proxy_client.mjs"), f"{proc.proxy_url}/rollout/{rollout}/attempt/{attempt}/v1", direct.url + "/v1"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["chat"]["proxied"] == out["chat"]["direct"]
    assert out["stream"]["proxied"] == out["stream"]["direct"]
    assert out["toolCall"]["function"]["name"] == "calc"
    assert out["streamText"] == REPLY

    spans = await stored_spans(proc, rollout, attempt, 3)
    check_span(spans[0], [{"role": "user", "content": "What is 2 + 2?"}],
               reply_ids(json.dumps({"query": "What is 2 + 2?"}, separators=(",", ":"))))
    check_span(spans[1], [{"role": "user", "content": "What is 1 + 3?"}], reply_ids(REPLY))
    check_span(spans[2], [{"role": "user", "content": "Say hi"}], reply_ids(REPLY))


async def test_errors_in_openai_shape(proxy_env) -> None:
    proxied, _ = clients(proxy_env, "ro-py-errors", "at-1")
    with pytest.raises(openai.NotFoundError) as err:
        proxied.embeddings.create(model="qwen", input="x")
    assert "does not serve" in str(err.value)
    # The upstream's own 400 reaches the SDK as it was sent.
    with pytest.raises(openai.BadRequestError) as err:
        proxied.chat.completions.create(model="qwen", messages=[])
    assert "messages must be a non-empty array" in str(err.value)


def collector_with_mock(
    llmmock_binary: Path, collector_binary: Path, tmp_path: Path, publish: bool
) -> Iterator[harness.Collector]:
    """One vLLM mock and one collector whose proxy forwards to it; with
    publish, the trainer extension publishes the proxy as a proxy_llm
    resource."""
    (tmp_path / "vllm").mkdir()
    (tmp_path / "c").mkdir()
    mock = start_mock(llmmock_binary, tmp_path / "vllm")
    proc = harness.Collector(collector_binary, tmp_path / "c", "proxy-single", extra_env={"LIGHTNING_LLM_UPSTREAM": mock.url + "/v1"})
    if publish:
        overlay = tmp_path / "proxy-llm.yaml"
        overlay.write_text(
            f"extensions:\n  trainer:\n    proxy_llm:\n      endpoint: {proc.proxy_url}/v1\n      model: qwen\n"
        )
        proc.extra_configs.append(overlay)
    try:
        proc.start()
    except RuntimeError as err:
        mock.stop()
        pytest.fail(str(err), pytrace=False)
    yield proc
    proc.stop()
    mock.stop()


@pytest.fixture
def runner_env(llmmock_binary: Path, collector_binary: Path, tmp_path: Path) -> Iterator[harness.Collector]:
    yield from collector_with_mock(llmmock_binary, collector_binary, tmp_path, publish=True)


async def test_agentlightning_runner_with_proxy_llm(runner_env: harness.Collector) -> None:
    """The trainer extension published the proxy as a proxy_llm resource;
    Agent Lightning 0.3.0's runner takes the latest resources and hands the
    agent that ProxyLLM resolved to /rollout/{rid}/attempt/{aid}/v1; the
    agent's calls become triplets with exact ids in that rollout and
    attempt; the agent itself records no LLM span."""
    proc = runner_env
    question = [{"role": "user", "content": "What is 2 + 2?"}]

    @llm_rollout
    def agent(task: Dict[str, str], llm: LLM) -> float:
        client = openai.OpenAI(base_url=llm.endpoint, api_key="k", max_retries=0)
        answer = client.chat.completions.create(model=llm.model, messages=question).choices[0].message.content
        return 1.0 if answer == REPLY else 0.0

    store = LightningStoreClient(proc.url)
    runner = LitAgentRunner(tracer=OtelTracer())
    runner.init(agent)
    runner.init_worker(0, store)
    try:
        latest = await store.get_latest_resources()
        assert latest is not None
        llm = latest.resources["main_llm"]
        assert isinstance(llm, ProxyLLM) and llm.model == "qwen"
        rollout = await runner.step({"q": "2+2"})
    finally:
        runner.teardown_worker(0)
        runner.teardown()
    assert rollout.status == "succeeded"
    attempts = await store.query_attempts(rollout.rollout_id)
    attempt_id = attempts[-1].attempt_id
    items = await triplets(proc, rollout.rollout_id, attempt_id, 1)
    await store.close()
    assert len(items) == 1
    assert items[0]["prompt"]["token_ids"] == prompt_ids(question)
    assert items[0]["response"]["token_ids"] == reply_ids(REPLY)
    assert items[0]["attempt_id"] == attempt_id


@pytest.fixture
def single_env(llmmock_binary: Path, collector_binary: Path, tmp_path: Path) -> Iterator[harness.Collector]:
    yield from collector_with_mock(llmmock_binary, collector_binary, tmp_path, publish=False)


async def test_responses_openai_sdk(single_env: harness.Collector) -> None:
    """OpenAI's Responses API, translated to chat for vLLM: the SDK gets a
    Response (and typed stream events); the span has the exact ids."""
    proc = single_env
    rollout, attempt = "ro-py-responses", "at-1"
    client = openai.OpenAI(base_url=f"{proc.proxy_url}/rollout/{rollout}/attempt/{attempt}/v1", api_key="k", max_retries=0)
    resp = client.responses.create(model="qwen", instructions="Be brief.", input="What is 2 + 2?")
    assert resp.status == "completed"
    assert resp.output_text == REPLY
    assert resp.usage.output_tokens == len(reply_ids(REPLY))

    tools = [{"type": "function", "name": "weather", "parameters": {"type": "object"}}]
    with client.responses.stream(model="qwen", input="weather in Paris", tools=tools) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_response()
    assert events[0] == "response.created" and events[-1] == "response.completed"
    call = final.output[0]
    assert call.type == "function_call" and call.name == "weather"
    assert json.loads(call.arguments) == {"query": "weather in Paris"}

    follow = client.responses.create(model="qwen", tools=tools, input=[
        {"role": "user", "content": "weather in Paris"},
        {"type": "function_call", "call_id": call.call_id, "name": "weather", "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ])
    assert follow.output_text == REPLY

    spans = await stored_spans(proc, rollout, attempt, 3)
    brief = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}]
    check_span(spans[0], brief, reply_ids(REPLY))
    check_span(spans[1], [{"role": "user", "content": "weather in Paris"}], reply_ids(json.dumps({"query": "weather in Paris"}, separators=(",", ":"))))
    assert all(s["attributes"]["llmproxy.api"] == "responses" for s in spans)
    items = await triplets(proc, rollout, attempt, 3)
    assert [t["response"]["token_ids"] for t in items][0] == reply_ids(REPLY)


async def test_messages_anthropic_sdk(single_env: harness.Collector) -> None:
    """Anthropic's Messages API with tool use, streamed and not, translated
    to chat for vLLM: the SDK gets Anthropic messages; spans and triplets
    carry the exact ids."""
    proc = single_env
    rollout, attempt = "ro-py-anthropic", "at-1"
    client = anthropic.Anthropic(base_url=f"{proc.proxy_url}/rollout/{rollout}/attempt/{attempt}", api_key="k", max_retries=0)
    tools = [{"name": "calc", "description": "adds numbers", "input_schema": {"type": "object"}}]
    question = [{"role": "user", "content": "What is 2 + 2?"}]
    msg = client.messages.create(model="qwen", max_tokens=64, system="Be brief.", tools=tools, messages=question)
    assert msg.stop_reason == "tool_use"
    use = msg.content[0]
    assert use.type == "tool_use" and use.name == "calc" and use.input == {"query": "What is 2 + 2?"}

    followup = question + [
        {"role": "assistant", "content": [use.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "4"}]},
    ]
    with client.messages.stream(model="qwen", max_tokens=64, system="Be brief.", tools=tools, messages=followup) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == REPLY
    assert final.stop_reason == "end_turn" and final.content[0].text == REPLY

    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(model="qwen", max_tokens=64, messages=[])
    assert "non-empty" in str(err.value)

    spans = await stored_spans(proc, rollout, attempt, 2)
    assert len(spans) == 2
    brief = [{"role": "system", "content": "Be brief."}] + question
    check_span(spans[0], brief, reply_ids(json.dumps({"query": "What is 2 + 2?"}, separators=(",", ":"))))
    assert spans[1]["attributes"]["response_token_ids"] == reply_ids(REPLY)
    assert all(s["attributes"]["llmproxy.api"] == "messages" for s in spans)
    items = await triplets(proc, rollout, attempt, 2)
    assert [t["response"]["token_ids"] for t in items][1] == reply_ids(REPLY)


@pytest.fixture
def anthropic_env(llmmock_binary: Path, collector_binary: Path, tmp_path: Path) -> Iterator[harness.Collector]:
    """A collector whose proxy routes model "claude" to an Anthropic mock
    (kind: anthropic, the proxy's own key) and anything else to vLLM."""
    for d in ("vllm", "anthropic", "c"):
        (tmp_path / d).mkdir()
    vllm = start_mock(llmmock_binary, tmp_path / "vllm")
    claude = harness.LLMMock(llmmock_binary, tmp_path / "anthropic", reply=REPLY, extra_args=["-anthropic"]).start()
    proc = harness.Collector(collector_binary, tmp_path / "c", "proxy-anthropic", extra_env={"LIGHTNING_LLM_UPSTREAM": vllm.url + "/v1"})
    overlay = tmp_path / "anthropic.yaml"
    overlay.write_text(
        "receivers:\n  llmproxy:\n    upstreams:\n"
        f"      - endpoint: {claude.url}/v1\n        kind: anthropic\n        models: [claude]\n        api_key: sk-ant-test\n"
        f"      - endpoint: {vllm.url}/v1\n        kind: vllm\n"
    )
    proc.extra_configs.append(overlay)
    try:
        proc.start()
    except RuntimeError as err:
        vllm.stop()
        claude.stop()
        pytest.fail(str(err), pytrace=False)
    yield proc
    proc.stop()
    vllm.stop()
    claude.stop()


async def test_anthropic_upstream_passthrough(anthropic_env: harness.Collector) -> None:
    """kind: anthropic: the anthropic SDK's calls pass through to Anthropic's
    API (here its mock) with the proxy's key; spans record them, text only."""
    proc = anthropic_env
    rollout, attempt = "ro-py-claude", "at-1"
    client = anthropic.Anthropic(base_url=f"{proc.proxy_url}/rollout/{rollout}/attempt/{attempt}", api_key="client-key", max_retries=0)
    tools = [{"name": "calc", "input_schema": {"type": "object"}}]
    msg = client.messages.create(model="claude", max_tokens=64, tools=tools, messages=[{"role": "user", "content": "What is 2 + 2?"}])
    assert msg.stop_reason == "tool_use" and msg.content[0].input == {"query": "What is 2 + 2?"}
    with client.messages.stream(model="claude", max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
        assert "".join(stream.text_stream) == REPLY
    spans = await stored_spans(proc, rollout, attempt, 2)
    assert [s["attributes"]["llmproxy.token_capture"] for s in spans] == ["unsupported_upstream"] * 2
    assert json.loads(spans[0]["attributes"]["gen_ai.output.messages"])[0]["parts"][0]["name"] == "calc"
    assert json.loads(spans[1]["attributes"]["gen_ai.output.messages"])[0]["parts"][0]["content"] == REPLY
