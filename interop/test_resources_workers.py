"""Resources, workers and statistics through the real LightningStoreClient."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
from aiohttp import ClientResponseError

from agentlightning.store.client_server import LightningStoreClient
from agentlightning.types import LLM, PaginatedResult, PromptTemplate, ProxyLLM, ResourcesUpdate, Worker
from helpers import make_span, uid


def sample_resources() -> dict:
    return {
        "main_llm": LLM(
            endpoint="http://127.0.0.1:4000/v1", model="Qwen/Qwen2.5-1.5B-Instruct",
            sampling_parameters={"temperature": 0.7},
        ),
        "proxy": ProxyLLM(endpoint="http://127.0.0.1:4001/v1", model="proxied", api_key="sk-test"),
        "system_prompt": PromptTemplate(template="You are helpful. {question}", engine="f-string"),
    }


async def test_add_resources_keeps_types(client: LightningStoreClient) -> None:
    added = await client.add_resources(cast(Any, sample_resources()))

    assert type(added) is ResourcesUpdate
    assert added.resources_id.startswith("rs-") and len(added.resources_id) == 15
    assert added.version == 1
    assert added.create_time == added.update_time
    assert abs(time.time() - added.create_time) < 120

    got = await client.get_resources_by_id(added.resources_id)
    assert got is not None
    assert got == added
    assert type(got.resources["main_llm"]) is LLM
    assert type(got.resources["proxy"]) is ProxyLLM
    assert type(got.resources["system_prompt"]) is PromptTemplate
    assert got.resources["main_llm"].sampling_parameters == {"temperature": 0.7}  # type: ignore[union-attr]
    assert got.resources == sample_resources()

    latest = await client.get_latest_resources()
    assert latest is not None and latest.resources_id == added.resources_id
    assert await client.get_resources_by_id("rs-doesnotexist") is None


async def test_update_resources_upserts_and_versions(client: LightningStoreClient) -> None:
    rid = uid("interop-res")
    created = await client.update_resources(rid, {})
    assert (created.resources_id, created.version, created.resources) == (rid, 1, {})

    other = await client.add_resources(cast(Any, {"p": PromptTemplate(template="x", engine="jinja")}))
    assert (await client.get_latest_resources()).resources_id == other.resources_id  # type: ignore[union-attr]

    replaced = await client.update_resources(rid, cast(Any, {"p": PromptTemplate(template="y", engine="jinja")}))
    assert replaced.version == 2
    assert replaced.create_time == created.create_time
    assert replaced.update_time >= created.update_time
    assert list(replaced.resources) == ["p"]
    # Updating makes a snapshot the latest again.
    assert (await client.get_latest_resources()).resources_id == rid  # type: ignore[union-attr]


async def test_resources_on_an_empty_store(fresh_client: LightningStoreClient) -> None:
    assert await fresh_client.get_latest_resources() is None
    empty = await fresh_client.query_resources()
    assert isinstance(empty, PaginatedResult)
    assert (list(empty), empty.total, empty.limit, empty.offset) == ([], 0, -1, 0)


async def test_query_resources_filters_sort_and_paging(fresh_client: LightningStoreClient) -> None:
    c = fresh_client
    for name in ("test-001", "test-002", "prod-003"):
        await c.update_resources(name, {})
    generated = await c.add_resources({})

    everything = await c.query_resources()
    assert everything.total == 4
    assert [r.resources_id for r in everything] == ["test-001", "test-002", "prod-003", generated.resources_id]

    assert [r.resources_id for r in await c.query_resources(resources_id="test-002")] == ["test-002"]
    assert [r.resources_id for r in await c.query_resources(resources_id_contains="test-")] == ["test-001", "test-002"]
    assert [r.resources_id for r in await c.query_resources(resources_id_contains="-003")] == ["prod-003"]
    both = await c.query_resources(resources_id="test-001", resources_id_contains="002")
    assert list(both) == []  # the exact and the substring condition are ANDed

    page = await c.query_resources(sort_by="resources_id", sort_order="desc", limit=2, offset=1)
    named = sorted(["test-001", "test-002", "prod-003", generated.resources_id], reverse=True)
    assert [r.resources_id for r in page] == named[1:3]
    assert (page.total, page.limit, page.offset) == (4, 2, 1)
    by_version = await c.query_resources(sort_by="update_time", sort_order="desc", limit=1)
    assert [r.resources_id for r in by_version] == [generated.resources_id]

    with pytest.raises(ClientResponseError) as info:
        await c.query_resources(sort_by="no_such_field")
    assert info.value.status == 400


async def test_update_worker_heartbeats(client: LightningStoreClient) -> None:
    wid = uid("runner")
    first = await client.update_worker(wid, heartbeat_stats={"cpu_usage_pct": 12.5, "host": "h1"})
    assert type(first) is Worker
    assert first.worker_id == wid
    assert first.status == "unknown"
    assert first.heartbeat_stats == {"cpu_usage_pct": 12.5, "host": "h1"}
    assert first.last_heartbeat_time is not None
    assert first.current_rollout_id is None

    second = await client.update_worker(wid)  # no body: only the heartbeat time moves
    assert second.heartbeat_stats == first.heartbeat_stats
    assert second.last_heartbeat_time is not None
    assert second.last_heartbeat_time >= first.last_heartbeat_time

    got = await client.get_worker_by_id(wid)
    assert got == second
    assert await client.get_worker_by_id(uid("missing")) is None

    with pytest.raises(ClientResponseError) as info:
        await client.update_worker(wid, heartbeat_stats=cast(Any, None))
    assert info.value.status == 400


async def test_worker_follows_its_attempts(client: LightningStoreClient) -> None:
    wid = uid("follow")
    await client.update_worker(wid, heartbeat_stats={"cpu": 1})
    started = await client.start_rollout(input={"worker": "follow"})

    await client.update_attempt(started.rollout_id, "latest", worker_id=wid, status="running")
    busy = await client.get_worker_by_id(wid)
    assert busy is not None
    assert busy.status == "busy"
    assert (busy.current_rollout_id, busy.current_attempt_id) == (started.rollout_id, started.attempt.attempt_id)
    assert busy.heartbeat_stats == {"cpu": 1}  # telemetry survives the sync

    await client.update_attempt(started.rollout_id, "latest", status="failed")
    idle = await client.get_worker_by_id(wid)
    assert idle is not None
    assert idle.status == "idle"
    assert (idle.current_rollout_id, idle.current_attempt_id) == (None, None)


async def test_query_workers_filters_and_sort(fresh_client: LightningStoreClient) -> None:
    c = fresh_client
    for wid in ("worker-a", "worker-b", "worker-c", "other-d"):
        await c.update_worker(wid, heartbeat_stats={"id": wid})
    for wid in ("worker-b", "worker-c"):
        await c.start_rollout(input={"for": wid}, worker_id=wid)

    everything = await c.query_workers()
    assert isinstance(everything, PaginatedResult)
    assert everything.total == 4
    assert {w.worker_id for w in everything} == {"worker-a", "worker-b", "worker-c", "other-d"}

    busy = await c.query_workers(status_in=["busy"], worker_id_contains="worker", sort_by="worker_id",
                                 sort_order="desc")
    assert [w.worker_id for w in busy] == ["worker-c", "worker-b"]
    unknown = await c.query_workers(status_in=["unknown"], sort_by="worker_id")
    assert [w.worker_id for w in unknown] == ["other-d", "worker-a"]
    ored = await c.query_workers(status_in=["busy"], worker_id_contains="other", filter_logic="or",
                                 sort_by="worker_id")
    assert [w.worker_id for w in ored] == ["other-d", "worker-b", "worker-c"]
    assert [w.worker_id for w in await c.query_workers(worker_id_contains="-d")] == ["other-d"]


async def test_statistics_count_everything(fresh_client: LightningStoreClient) -> None:
    c = fresh_client
    first = await c.statistics()
    assert isinstance(first.get("name"), str) and first["name"]
    assert {k: first.get(k) for k in ("total_rollouts", "total_attempts", "total_spans", "total_resources",
                                      "total_workers")} == dict.fromkeys(
        ("total_rollouts", "total_attempts", "total_spans", "total_resources", "total_workers"), 0)

    started = await c.start_rollout(input={"stats": 1}, worker_id="stats-worker")
    await c.start_attempt(started.rollout_id)
    await c.enqueue_rollout(input={"stats": 2})
    await c.add_span(make_span(started.rollout_id, started.attempt.attempt_id, 1, "s1"))
    await c.add_span(make_span(started.rollout_id, started.attempt.attempt_id, 2, "s2"))
    await c.add_resources({})
    await c.update_worker("stats-worker-2")

    after = await c.statistics()
    assert after["name"] == first["name"]
    assert (after["total_rollouts"], after["total_attempts"], after["total_spans"]) == (2, 2, 2)
    assert (after["total_resources"], after["total_workers"]) == (1, 2)
    assert after["uptime"] > first["uptime"] >= 0
