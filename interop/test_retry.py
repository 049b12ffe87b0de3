"""Error behaviour, client retries and store restarts.

The client (LightningStoreClient._request_json) retries 5xx, 408 and network
errors after each delay in `retry_delays`, but only while GET /v1/agl/health
answers 200 within `health_retry_delays`; other 4xx are raised at once.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import ClientResponseError

import harness
from agentlightning.store.client_server import LightningStoreClient
from agentlightning.types import LLM, EnqueueRolloutRequest
from helpers import LogRecorder, make_span

CLIENT_LOGGER = "agentlightning.store.client"
RETRY_LINE = "before retrying"  # "Waiting {delay} seconds before retrying {method}: {path}"


async def test_store_error_is_retried_then_raised(collector: harness.StoreProcess) -> None:
    client = LightningStoreClient(collector.url, retry_delays=(0.01, 0.02), health_retry_delays=(0.01,))
    try:
        with LogRecorder(CLIENT_LOGGER) as log:
            with pytest.raises(ClientResponseError) as info:
                await client.update_rollout("ro-doesnotexist", status="failed")
        assert info.value.status == 500
        assert log.count(RETRY_LINE) == 2  # the first call plus one retry per delay
    finally:
        await client.close()


async def test_bad_request_is_not_retried(collector: harness.StoreProcess) -> None:
    client = LightningStoreClient(collector.url, retry_delays=(0.01, 0.02), health_retry_delays=(0.01,))
    try:
        started = await client.start_rollout(input={"retry": "400"})
        with LogRecorder(CLIENT_LOGGER) as log:
            with pytest.raises(ClientResponseError) as info:
                await client.update_rollout(started.rollout_id, status=None)  # type: ignore[arg-type]
        assert info.value.status == 400
        assert log.count(RETRY_LINE) == 0
    finally:
        await client.close()


async def test_empty_retry_delays_disable_retries(collector: harness.StoreProcess) -> None:
    client = LightningStoreClient(collector.url, retry_delays=(), health_retry_delays=())
    try:
        with LogRecorder(CLIENT_LOGGER) as log:
            with pytest.raises(ClientResponseError) as info:
                await client.start_attempt("ro-doesnotexist")
        assert info.value.status == 500
        assert log.count(RETRY_LINE) == 0
    finally:
        await client.close()


async def test_calls_while_the_store_is_down(fresh_collector: harness.StoreProcess) -> None:
    client = LightningStoreClient(fresh_collector.url, retry_delays=(0.01,), health_retry_delays=(0.01, 0.01))
    try:
        queued = await client.enqueue_rollout(input={"down": True})
        fresh_collector.stop()

        # Mutations raise once /health stays silent; nothing is retried blindly.
        with LogRecorder(CLIENT_LOGGER) as log:
            with pytest.raises(aiohttp.ClientConnectionError):
                await client.enqueue_rollout(input={"down": "again"})
        assert log.count(RETRY_LINE) == 0
        # Dequeue reports "empty" instead of raising, as runners expect while polling.
        assert await client.dequeue_rollout(worker_id="poller") is None
        # The getters log and return None.
        assert await client.get_rollout_by_id(queued.rollout_id) is None
        assert await client.get_latest_resources() is None

        fresh_collector.start()
        claimed = await client.dequeue_rollout(worker_id="poller")
        if fresh_collector.durable:
            assert claimed is not None and claimed.rollout_id == queued.rollout_id
    finally:
        await client.close()


async def test_call_survives_a_restart_inside_the_retry_window(fresh_collector: harness.StoreProcess) -> None:
    """Stop the store, start a call, bring the store back on the same port and
    data dir while the client is probing /health: the call succeeds."""
    # Probe /health for up to ~60 s (the reference store imports slowly).
    client = LightningStoreClient(
        fresh_collector.url, retry_delays=(0.2, 0.5, 1.0), health_retry_delays=(0.2,) * 300
    )
    try:
        before = await client.start_rollout(input={"before": "restart"})
        fresh_collector.stop()

        with LogRecorder(CLIENT_LOGGER) as log:
            first_failure = log.event_for("Network/session issue")
            call = asyncio.create_task(client.enqueue_rollout(input={"during": "restart"}, metadata={"n": 1}))
            await asyncio.wait_for(first_failure.wait(), timeout=30)
            assert not call.done()

            await asyncio.to_thread(fresh_collector.start)
            rollout = await asyncio.wait_for(call, timeout=120)

        assert rollout.status == "queuing"
        assert rollout.metadata == {"n": 1}
        assert log.count(RETRY_LINE) >= 1
        stored = await client.get_rollout_by_id(rollout.rollout_id)
        assert stored == rollout
        if fresh_collector.durable:
            kept = await client.get_rollout_by_id(before.rollout_id)
            assert kept is not None and kept.rollout_id == before.rollout_id
    finally:
        await client.close()


async def test_pooled_connection_to_a_restarted_store_is_retried(fresh_collector: harness.StoreProcess) -> None:
    """The client's session keeps connections alive; after a quick restart the
    next call meets a dead socket, and must recover through the retry path."""
    client = LightningStoreClient(fresh_collector.url, retry_delays=(0.1, 0.2), health_retry_delays=(0.1,) * 50)
    try:
        await client.statistics()
        fresh_collector.restart()
        resources = await client.add_resources({"llm": LLM(endpoint="http://127.0.0.1:1/v1", model="m")})
        assert resources.resources_id.startswith("rs-")
        assert (await client.get_latest_resources()) == resources
    finally:
        await client.close()


@pytest.mark.durable
async def test_state_survives_a_restart(fresh_collector: harness.StoreProcess) -> None:
    client = LightningStoreClient(fresh_collector.url, retry_delays=(0.1, 0.2), health_retry_delays=(0.1,) * 50)
    try:
        resources = await client.update_resources("persisted", {"llm": LLM(endpoint="http://x/v1", model="m")})
        queued = await client.enqueue_many_rollouts([EnqueueRolloutRequest(input={"q": i}) for i in range(3)])
        started = await client.start_rollout(input={"s": 1}, worker_id="persist-worker")
        await client.add_span(make_span(started.rollout_id, started.attempt.attempt_id, 5, "before"))
        await client.update_worker("persist-worker", heartbeat_stats={"cpu": 3})
        rollouts_before = await client.query_rollouts()
        attempts_before = await client.query_attempts(started.rollout_id)
        spans_before = await client.query_spans(started.rollout_id)
        worker_before = await client.get_worker_by_id("persist-worker")

        fresh_collector.restart()

        assert await client.get_resources_by_id("persisted") == resources
        assert await client.get_latest_resources() == resources
        assert list(await client.query_rollouts()) == list(rollouts_before)
        assert list(await client.query_attempts(started.rollout_id)) == list(attempts_before)
        assert list(await client.query_spans(started.rollout_id)) == list(spans_before)
        assert await client.get_worker_by_id("persist-worker") == worker_before
        # The sequence counter and the queue carry on where they were.
        assert await client.get_next_span_sequence_id(started.rollout_id, started.attempt.attempt_id) == 6
        claimed = await client.dequeue_many_rollouts(limit=5)
        assert [r.rollout_id for r in claimed] == [r.rollout_id for r in queued]
    finally:
        await client.close()
