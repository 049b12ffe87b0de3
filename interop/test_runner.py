"""A real Agent Lightning training loop whose only store is the collector.

Runner side: `Trainer.fit` with `ClientServerExecutionStrategy(role="runner")`
pointed at the collector's host and port, i.e. exactly what `agl` runners do
in a split deployment: a `LitAgentRunner` with the default `AgentOpsTracer`
runs a small `LitAgent` that asks an OpenAI-compatible mock (internal/llmmock)
through the `openai` SDK and returns a float reward.

Algorithm side: `Trainer.fit` with `ClientServerExecutionStrategy(role="algorithm",
managed_store=False)` and `store=LightningStoreClient(collector)`, running a
functional algorithm that adds resources, enqueues a batch, polls
`wait_for_rollouts(timeout=0)`, reads the spans back and runs Agent
Lightning's own `TracerTraceToTriplet` on them.

The scenario runs once per module; each test checks one aspect of its outcome.
The LLM spans travel through the tracer's OTLP exporter to POST /v1/traces on
the store port (the `otlp` tests); the reward span goes through REST.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

import openai
import pytest

import harness
from agentlightning import LitAgent, LitAgentRunner, Trainer
from agentlightning.adapter import TracerTraceToTriplet
from agentlightning.algorithm.decorator import algo
from agentlightning.execution.client_server import ClientServerExecutionStrategy
from agentlightning.store.client_server import LightningStoreClient
from agentlightning.tracer.agentops import AgentOpsTracer
from agentlightning.types import (
    LLM,
    Attempt,
    EnqueueRolloutRequest,
    NamedResources,
    Rollout,
    Span,
    Triplet,
    Worker,
)
from helpers import eventually

REPLY = "The answer is 4."  # what the mock says (conftest's llm_mock fixture)
SYSTEM_PROMPT = "Answer with one sentence."
TASKS = [
    {"question": "What is 2 + 2?", "answer": "4"},
    {"question": "What is 1 + 3?", "answer": "4"},
    {"question": "What is 2 + 3?", "answer": "5"},
]
WORKER = "Worker-0"  # LitAgentRunner names worker i "Worker-<i>"
LLM_SPAN = "openai.chat.completion"


def mock_token_ids(text: str) -> List[int]:
    """internal/llmmock's tokenizer: FNV-1a of each whitespace-separated word."""
    ids = []
    for word in text.split():
        h = 0x811C9DC5
        for byte in word.encode():
            h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
        ids.append(1 + h % 49999)
    return ids


class ArithmeticAgent(LitAgent[Dict[str, str]]):
    """Asks the LLM resource and rewards an answer that ends with the expected number."""

    def rollout(self, task: Dict[str, str], resources: NamedResources, rollout: Rollout) -> float:
        llm = resources["main_llm"]
        assert isinstance(llm, LLM)
        client = openai.OpenAI(base_url=llm.endpoint, api_key="interop-dummy-key", max_retries=0)
        response = client.chat.completions.create(
            model=llm.model,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": task["question"]},
            ],
            temperature=llm.sampling_parameters.get("temperature", 0.0),
            extra_body={"return_token_ids": True},  # vLLM's switch, honoured by the mock
        )
        answer = response.choices[0].message.content or ""
        return 1.0 if answer.rstrip(".").endswith(task["answer"]) else 0.0


@dataclass
class BatchOutcome:
    resources_id: str = ""
    enqueued: List[Rollout] = field(default_factory=list)
    finished: List[Rollout] = field(default_factory=list)
    attempts: Dict[str, List[Attempt]] = field(default_factory=dict)
    spans: Dict[str, List[Span]] = field(default_factory=dict)
    triplets: Dict[str, List[Triplet]] = field(default_factory=dict)
    worker_before: Optional[Worker] = None
    worker_after: Optional[Worker] = None
    errors: List[str] = field(default_factory=list)
    url: str = ""


def make_algorithm(outcome: BatchOutcome):
    @algo
    async def batch_algorithm(store, adapter, initial_resources, train_dataset) -> None:  # noqa: ANN001
        # Wait for the runner to come up (its heartbeat registers the worker).
        outcome.worker_before = await eventually(
            lambda: store.get_worker_by_id(WORKER), lambda w: w is not None and bool(w.heartbeat_stats), timeout=60
        )
        resources = await store.add_resources(initial_resources)
        outcome.resources_id = resources.resources_id
        outcome.enqueued = list(
            await store.enqueue_many_rollouts(
                [EnqueueRolloutRequest(input=task, mode="train", resources_id=resources.resources_id)
                 for task in train_dataset]
            )
        )
        ids = [r.rollout_id for r in outcome.enqueued]
        outcome.finished = await eventually(
            lambda: store.wait_for_rollouts(rollout_ids=ids, timeout=0),
            lambda done: len(done) == len(ids),
            timeout=120,
            interval=0.2,
        )
        for rollout_id in ids:
            outcome.attempts[rollout_id] = list(await store.query_attempts(rollout_id))
            # Traced spans arrive through OTLP and the collector's pipeline, so
            # they may trail the rollout's completion a little.
            spans = await eventually(
                lambda: store.query_spans(rollout_id, "latest"),
                lambda page: any(s.name == LLM_SPAN for s in page),
                timeout=20,
            )
            outcome.spans[rollout_id] = list(spans)
            try:
                outcome.triplets[rollout_id] = adapter.adapt(outcome.spans[rollout_id])
            except Exception:  # an adapter error is an outcome the tests report
                outcome.errors.append(f"adapter failed for {rollout_id}:\n{traceback.format_exc()}")
        outcome.worker_after = await store.get_worker_by_id(WORKER)
        # The client's HTTP session belongs to this event loop, which the
        # strategy closes when the algorithm returns.
        await store.close()

    return batch_algorithm


def run_runner_role(store: harness.StoreProcess, outcome: BatchOutcome) -> None:
    tracer = AgentOpsTracer()
    runner = LitAgentRunner(
        tracer=tracer, max_rollouts=len(TASKS), poll_interval=0.2, interval_jitter=0.05, heartbeat_interval=0.3
    )
    host, port = store.url.removeprefix("http://").split(":")
    trainer = Trainer(
        tracer=tracer,
        runner=runner,
        strategy=ClientServerExecutionStrategy(role="runner", server_host=host, server_port=int(port), n_runners=1),
    )
    try:
        trainer.fit(ArithmeticAgent())
    except BaseException:  # noqa: BLE001 - reported through the outcome
        outcome.errors.append(f"runner role failed:\n{traceback.format_exc()}")


@pytest.fixture(scope="module")
def batch(store_factory, llm_mock: harness.LLMMock) -> Iterator[BatchOutcome]:  # noqa: ANN001
    store = store_factory("runner-loop").start()
    outcome = BatchOutcome(url=store.url)
    runner_thread = threading.Thread(target=run_runner_role, args=(store, outcome), name="agl-runner", daemon=True)
    runner_thread.start()

    client = LightningStoreClient(store.url)
    trainer = Trainer(
        algorithm=make_algorithm(outcome),
        store=client,
        adapter=TracerTraceToTriplet(),
        initial_resources={
            "main_llm": LLM(endpoint=llm_mock.url + "/v1", model="mock-model", sampling_parameters={"temperature": 0.0})
        },
        strategy=ClientServerExecutionStrategy(role="algorithm", managed_store=False),
    )
    try:
        trainer.fit(ArithmeticAgent(), train_dataset=TASKS)
    except BaseException:  # noqa: BLE001
        outcome.errors.append(f"algorithm role failed:\n{traceback.format_exc()}")
    runner_thread.join(timeout=60)
    if runner_thread.is_alive():
        outcome.errors.append("the runner did not stop after max_rollouts")
    yield outcome
    store.stop()


def test_roles_ran_without_errors(batch: BatchOutcome) -> None:
    assert batch.errors == []


def test_every_rollout_succeeded_on_the_runner(batch: BatchOutcome) -> None:
    ids = [r.rollout_id for r in batch.enqueued]
    assert len(ids) == len(TASKS)
    assert sorted(r.rollout_id for r in batch.finished) == sorted(ids)
    assert {r.status for r in batch.finished} == {"succeeded"}
    for rollout in batch.finished:
        assert rollout.resources_id == batch.resources_id
        assert rollout.end_time is not None
        attempts = batch.attempts[rollout.rollout_id]
        assert [(a.sequence_id, a.status, a.worker_id) for a in attempts] == [(1, "succeeded", WORKER)]


def test_reward_spans_carry_the_agent_result(batch: BatchOutcome) -> None:
    expected = {r.rollout_id: (1.0 if task["answer"] == "4" else 0.0) for r, task in zip(batch.enqueued, TASKS)}
    for rollout_id, reward in expected.items():
        rewards = [s for s in batch.spans[rollout_id] if s.name == "agentlightning.annotation"]
        assert len(rewards) == 1, [s.name for s in batch.spans[rollout_id]]
        attrs = rewards[0].attributes
        assert attrs["agentlightning.reward.0.name"] == "primary"
        assert attrs["agentlightning.reward.0.value"] == reward


def test_worker_heartbeats_and_ends_idle(batch: BatchOutcome) -> None:
    before, after = batch.worker_before, batch.worker_after
    assert before is not None and before.heartbeat_stats
    assert {"cpu_cores", "mem_total_gb", "host"} <= set(before.heartbeat_stats)
    assert after is not None
    assert after.status == "idle"
    assert (after.current_rollout_id, after.current_attempt_id) == (None, None)
    assert after.last_dequeue_time is not None and after.last_heartbeat_time is not None


@pytest.mark.otlp
def test_llm_spans_reach_the_store_through_the_tracer(batch: BatchOutcome) -> None:
    for rollout in batch.enqueued:
        spans = batch.spans[rollout.rollout_id]
        llm_spans = [s for s in spans if s.name == LLM_SPAN]
        assert len(llm_spans) == 1, [s.name for s in spans]
        llm = llm_spans[0]
        assert llm.attributes["gen_ai.request.model"] == "mock-model"
        assert llm.attributes["gen_ai.response.id"].startswith("chatcmpl-mock-")
        assert llm.resource.attributes["agentlightning.rollout_id"] == rollout.rollout_id
        seqs = [s.sequence_id for s in spans]
        assert len(set(seqs)) == len(seqs)


@pytest.mark.otlp
def test_traced_spans_are_numbered_before_the_reward(batch: BatchOutcome) -> None:
    """AgentOps flushes the tracer when the rollout's trace ends, before the
    runner adds the reward span over REST; a store that numbers OTLP spans as
    it receives them (the reference does) therefore gives every traced span a
    lower sequence id than the reward."""
    for rollout in batch.enqueued:
        spans = batch.spans[rollout.rollout_id]
        assert [s.name for s in spans][-1] == "agentlightning.annotation", [(s.sequence_id, s.name) for s in spans]


@pytest.mark.otlp
def test_adapter_turns_spans_into_triplets(batch: BatchOutcome) -> None:
    for rollout, task in zip(batch.enqueued, TASKS):
        triplets = batch.triplets.get(rollout.rollout_id)
        assert triplets is not None and len(triplets) == 1, triplets
        triplet = triplets[0]
        prompt = f"system: {SYSTEM_PROMPT}\nuser: {task['question']}"
        assert triplet.prompt["token_ids"] == mock_token_ids(prompt)
        assert triplet.response["token_ids"] == mock_token_ids(REPLY)
        assert [m["content"] for m in triplet.prompt["raw_content"]] == [SYSTEM_PROMPT, task["question"]]
        assert triplet.response["raw_content"][0]["content"] == REPLY
        assert triplet.reward == (1.0 if task["answer"] == "4" else 0.0)
        assert str(triplet.metadata["response_id"]).startswith("chatcmpl-mock-")


@pytest.mark.otlp
def test_collector_triplets_carry_the_runner_reward(batch: BatchOutcome) -> None:
    """The collector's own triplets: the traced LLM call came through OTLP and
    the reward through REST (the runner's add_span); both must meet."""
    for rollout, task in zip(batch.enqueued, TASKS):
        url = f"{batch.url}/v1/lightning/rollouts/{rollout.rollout_id}/triplets?attempt_id=latest"
        deadline = time.monotonic() + 20
        items: list = []
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    items = json.load(resp).get("items", [])
            except urllib.error.HTTPError:
                pytest.skip("the triplets API is otelcol-lightning's own; the reference store has none")
            if items and items[-1].get("reward") is not None:
                break
            time.sleep(0.2)
        assert len(items) == 1, items
        assert items[0]["reward"] == (1.0 if task["answer"] == "4" else 0.0)
