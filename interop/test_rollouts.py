"""Rollouts, attempts and the queue through the real LightningStoreClient."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import ClientResponseError

from agentlightning.store.base import UNSET
from agentlightning.store.client_server import LightningStoreClient
from agentlightning.types import (
    LLM,
    Attempt,
    AttemptedRollout,
    EnqueueRolloutRequest,
    PaginatedResult,
    Rollout,
    RolloutConfig,
)
from helpers import uid

FULL_CONFIG = RolloutConfig(
    timeout_seconds=600.0, unresponsive_seconds=120.0, max_attempts=3, retry_condition=["failed", "timeout"]
)


def assert_recent(ts: float | None) -> None:
    assert ts is not None
    assert abs(time.time() - ts) < 120, f"timestamp {ts} is not 'now' in float seconds"


async def test_start_rollout_returns_attempted_rollout(client: LightningStoreClient) -> None:
    worker = uid("worker")
    started = await client.start_rollout(
        input={"question": "2+2?"}, mode="train", config=FULL_CONFIG, metadata={"step": 3}, worker_id=worker
    )

    assert type(started) is AttemptedRollout
    assert started.rollout_id.startswith("ro-") and len(started.rollout_id) == 15
    assert started.input == {"question": "2+2?"}
    assert started.mode == "train"
    assert started.status == "preparing"
    assert started.config == FULL_CONFIG
    assert started.metadata == {"step": 3}
    assert_recent(started.start_time)
    assert started.end_time is None

    attempt = started.attempt
    assert attempt.rollout_id == started.rollout_id
    assert attempt.attempt_id.startswith("at-") and len(attempt.attempt_id) == 11
    assert attempt.sequence_id == 1
    assert attempt.status == "preparing"
    assert attempt.worker_id == worker
    assert attempt.end_time is None
    assert_recent(attempt.start_time)

    busy = await client.get_worker_by_id(worker)
    assert busy is not None
    assert busy.status == "busy"
    assert (busy.current_rollout_id, busy.current_attempt_id) == (started.rollout_id, attempt.attempt_id)
    assert_recent(busy.last_busy_time)


async def test_start_rollout_defaults(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input="plain string input")
    assert started.input == "plain string input"
    assert started.mode is None
    assert started.config == RolloutConfig()
    assert started.metadata == {}  # the store writes {} when the caller sends null
    assert started.attempt.worker_id is None


async def test_rollouts_are_stamped_with_latest_resources(fresh_client: LightningStoreClient) -> None:
    before = await fresh_client.start_rollout(input={"n": 0})
    assert before.resources_id is None  # no resources exist yet

    update = await fresh_client.add_resources({"llm": LLM(endpoint="http://127.0.0.1:1/v1", model="m")})
    started = await fresh_client.start_rollout(input={"n": 1})
    queued = await fresh_client.enqueue_rollout(input={"n": 2})
    many = await fresh_client.enqueue_many_rollouts([EnqueueRolloutRequest(input={"n": 3})])
    explicit = await fresh_client.enqueue_rollout(input={"n": 4}, resources_id="not-validated")

    assert started.resources_id == update.resources_id
    assert queued.resources_id == update.resources_id
    assert many[0].resources_id == update.resources_id
    assert explicit.resources_id == "not-validated"


async def test_enqueue_rollout_returns_plain_rollout(client: LightningStoreClient) -> None:
    queued = await client.enqueue_rollout(input={"idx": 0}, mode="val", metadata={"batch": 1})

    assert type(queued) is Rollout
    assert queued.rollout_id.startswith("ro-")
    assert queued.status == "queuing"
    assert queued.mode == "val"
    assert queued.metadata == {"batch": 1}
    assert queued.config == RolloutConfig(timeout_seconds=None, unresponsive_seconds=None, max_attempts=1)
    assert queued.end_time is None
    assert_recent(queued.start_time)


async def test_enqueue_many_rollouts_keeps_request_order(client: LightningStoreClient) -> None:
    requests = [
        EnqueueRolloutRequest(input={"idx": 0}, mode="train", metadata={"tag": "a"}),
        EnqueueRolloutRequest(input={"idx": 1}, mode="val", config=RolloutConfig(max_attempts=2)),
        EnqueueRolloutRequest(input=[1, 2, 3], mode="test", resources_id="rs-explicit"),
    ]
    queued = await client.enqueue_many_rollouts(requests)

    assert [type(r) for r in queued] == [Rollout, Rollout, Rollout]
    assert [r.input for r in queued] == [{"idx": 0}, {"idx": 1}, [1, 2, 3]]
    assert [r.mode for r in queued] == ["train", "val", "test"]
    assert queued[0].metadata == {"tag": "a"}
    assert queued[1].config.max_attempts == 2
    assert queued[2].resources_id == "rs-explicit"
    assert {r.status for r in queued} == {"queuing"}
    assert len({r.rollout_id for r in queued}) == 3

    assert await client.enqueue_many_rollouts([]) == []


async def test_dequeue_is_fifo_and_creates_attempts(fresh_client: LightningStoreClient) -> None:
    queued = await fresh_client.enqueue_many_rollouts([EnqueueRolloutRequest(input={"idx": i}) for i in range(4)])
    ids = [r.rollout_id for r in queued]

    first = await fresh_client.dequeue_rollout(worker_id="worker-a")
    assert type(first) is AttemptedRollout
    assert first.rollout_id == ids[0]
    assert first.status == "preparing"
    assert (first.attempt.sequence_id, first.attempt.status, first.attempt.worker_id) == (1, "preparing", "worker-a")

    batch = await fresh_client.dequeue_many_rollouts(limit=2, worker_id="worker-b")
    assert [r.rollout_id for r in batch] == ids[1:3]
    assert all(r.attempt.worker_id == "worker-b" for r in batch)

    rest = await fresh_client.dequeue_many_rollouts(limit=10)
    assert [r.rollout_id for r in rest] == ids[3:]
    assert rest[0].attempt.worker_id is None

    assert await fresh_client.dequeue_rollout(worker_id="worker-a") is None
    assert await fresh_client.dequeue_many_rollouts(limit=3) == []
    assert await fresh_client.dequeue_many_rollouts(limit=0) == []

    # worker-a's claim is still running, so the empty dequeue leaves it busy.
    worker_b = await fresh_client.get_worker_by_id("worker-b")
    assert worker_b is not None and worker_b.status == "busy"
    assert worker_b.current_rollout_id == ids[2]  # synced to the last claimed attempt
    assert_recent(worker_b.last_dequeue_time)


async def test_dequeue_skips_rollouts_no_longer_queued(fresh_client: LightningStoreClient) -> None:
    cancelled = await fresh_client.enqueue_rollout(input={"idx": 0})
    kept = await fresh_client.enqueue_rollout(input={"idx": 1})
    await fresh_client.update_rollout(cancelled.rollout_id, status="cancelled")

    claimed = await fresh_client.dequeue_rollout()
    assert claimed is not None and claimed.rollout_id == kept.rollout_id
    assert await fresh_client.dequeue_rollout() is None


async def test_empty_dequeue_marks_worker_idle(fresh_client: LightningStoreClient) -> None:
    assert await fresh_client.dequeue_rollout(worker_id="idle-worker") is None
    worker = await fresh_client.get_worker_by_id("idle-worker")
    assert worker is not None
    assert worker.status == "idle"
    assert_recent(worker.last_dequeue_time)
    assert_recent(worker.last_idle_time)


async def test_start_attempt_and_query_attempts(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"retry": True})
    worker = uid("retry-worker")
    retried = await client.start_attempt(started.rollout_id, worker_id=worker)

    assert type(retried) is AttemptedRollout
    assert retried.rollout_id == started.rollout_id
    assert retried.attempt.sequence_id == 2
    assert retried.attempt.worker_id == worker
    assert retried.attempt.attempt_id != started.attempt.attempt_id
    third = await client.start_attempt(started.rollout_id)
    assert third.attempt.sequence_id == 3 and third.attempt.worker_id is None

    attempts = await client.query_attempts(started.rollout_id)
    assert isinstance(attempts, PaginatedResult)
    assert all(type(a) is Attempt for a in attempts)
    assert [a.sequence_id for a in attempts] == [1, 2, 3]
    assert (attempts.total, attempts.limit, attempts.offset) == (3, -1, 0)

    desc = await client.query_attempts(started.rollout_id, sort_order="desc")
    assert [a.sequence_id for a in desc] == [3, 2, 1]
    page = await client.query_attempts(started.rollout_id, limit=1, offset=1)
    assert [a.sequence_id for a in page] == [2]
    assert (page.total, page.limit, page.offset) == (3, 1, 1)

    latest = await client.get_latest_attempt(started.rollout_id)
    assert latest is not None and latest.attempt_id == third.attempt.attempt_id

    unknown = await client.query_attempts("ro-doesnotexist")
    assert (list(unknown), unknown.total) == ([], 0)
    assert await client.get_latest_attempt("ro-doesnotexist") is None


async def test_start_attempt_unknown_rollout_raises(client: LightningStoreClient) -> None:
    with pytest.raises(ClientResponseError) as info:
        await client.start_attempt("ro-doesnotexist")
    assert info.value.status == 500


async def test_get_rollout_by_id_distinguishes_attempted(client: LightningStoreClient) -> None:
    queued = await client.enqueue_rollout(input={"get": 1})
    got = await client.get_rollout_by_id(queued.rollout_id)
    assert type(got) is Rollout
    assert got == queued

    attempted = await client.start_attempt(queued.rollout_id)
    got = await client.get_rollout_by_id(queued.rollout_id)
    assert type(got) is AttemptedRollout
    assert got.attempt == attempted.attempt
    assert got.status == "preparing"

    assert await client.get_rollout_by_id("ro-doesnotexist") is None


async def test_query_rollouts_filters_sort_and_paging(fresh_client: LightningStoreClient) -> None:
    c = fresh_client
    queued = await c.enqueue_many_rollouts([EnqueueRolloutRequest(input={"i": i}) for i in range(5)])
    started = await c.start_rollout(input={"i": 5})
    await c.update_rollout(queued[0].rollout_id, status="failed")
    queued_ids = [r.rollout_id for r in queued]
    all_ids = queued_ids + [started.rollout_id]

    everything = await c.query_rollouts()
    assert isinstance(everything, PaginatedResult)
    assert (everything.total, everything.limit, everything.offset) == (6, -1, 0)
    assert [r.rollout_id for r in everything] == all_ids  # insertion order without sort
    by_id = {r.rollout_id: r for r in everything}
    assert type(by_id[started.rollout_id]) is AttemptedRollout
    assert by_id[started.rollout_id].attempt.attempt_id == started.attempt.attempt_id
    assert type(by_id[queued_ids[1]]) is Rollout

    queuing = await c.query_rollouts(status_in=["queuing"])
    assert [r.rollout_id for r in queuing] == queued_ids[1:]
    two = await c.query_rollouts(status_in=["failed", "preparing"])
    assert {r.rollout_id for r in two} == {queued_ids[0], started.rollout_id}
    assert (await c.query_rollouts(status_in=[])).total == 0  # `within []` matches nothing

    subset = await c.query_rollouts(rollout_id_in=[queued_ids[3], started.rollout_id])
    assert [r.rollout_id for r in subset] == [queued_ids[3], started.rollout_id]
    suffix = queued_ids[2][-6:]
    contains = await c.query_rollouts(rollout_id_contains=suffix)
    assert queued_ids[2] in [r.rollout_id for r in contains]

    anded = await c.query_rollouts(status_in=["queuing"], rollout_id_in=[queued_ids[0], queued_ids[1]])
    assert [r.rollout_id for r in anded] == [queued_ids[1]]
    ored = await c.query_rollouts(
        status_in=["preparing"], rollout_id_in=[queued_ids[0]], filter_logic="or", sort_by="rollout_id"
    )
    assert [r.rollout_id for r in ored] == sorted([queued_ids[0], started.rollout_id])

    desc_ids = sorted(all_ids, reverse=True)
    page = await c.query_rollouts(sort_by="rollout_id", sort_order="desc", limit=2, offset=1)
    assert [r.rollout_id for r in page] == desc_ids[1:3]
    assert (page.total, page.limit, page.offset) == (6, 2, 1)
    past_end = await c.query_rollouts(limit=5, offset=100)
    assert (list(past_end), past_end.total) == ([], 6)

    # The deprecated aliases still reach the server as status_in / rollout_id_in.
    legacy = await c.query_rollouts(status=["queuing"], rollout_ids=[queued_ids[4]])
    assert [r.rollout_id for r in legacy] == [queued_ids[4]]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sort_by": "no_such_field"},
        {"sort_by": "attempt"},  # a field of AttemptedRollout, not of Rollout
        {"limit": 0},
        {"offset": -1},
    ],
)
async def test_query_rollouts_rejects_bad_parameters(client: LightningStoreClient, kwargs: dict) -> None:
    with pytest.raises(ClientResponseError) as info:
        await client.query_rollouts(**kwargs)
    assert info.value.status == 400


async def test_update_rollout_none_vs_unset(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"v": 1}, mode="val", metadata={"keep": True})
    rid = started.rollout_id

    updated = await client.update_rollout(rid, mode="train", metadata={"extra": 1}, input={"v": 2})
    assert type(updated) is Rollout
    assert (updated.mode, updated.metadata, updated.input) == ("train", {"extra": 1}, {"v": 2})

    # None is a value: it clears nullable fields; metadata is replaced, not merged.
    cleared = await client.update_rollout(rid, mode=None, resources_id=None, metadata={"only": 2})
    assert (cleared.mode, cleared.resources_id, cleared.metadata) == (None, None, {"only": 2})
    metadata_none = await client.update_rollout(rid, metadata=None)
    assert metadata_none.metadata is None

    # UNSET sends nothing: the fields stay, only the status changes.
    kept = await client.update_rollout(rid, mode=UNSET, metadata=UNSET, input=UNSET, status="running")
    assert (kept.mode, kept.metadata, kept.input, kept.status) == (None, None, {"v": 2}, "running")

    new_config = RolloutConfig(max_attempts=4, retry_condition=["unresponsive"])
    configured = await client.update_rollout(rid, config=new_config, resources_id="rs-manual")
    assert configured.config == new_config
    assert configured.resources_id == "rs-manual"

    stored = await client.get_rollout_by_id(rid)
    assert stored is not None
    assert (stored.mode, stored.metadata, stored.status, stored.config) == (None, None, "running", new_config)

    noop = await client.update_rollout(rid)  # an empty body is valid
    assert noop.status == "running"


async def test_update_rollout_terminal_status_sets_end_time(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"end": True})
    done = await client.update_rollout(started.rollout_id, status="succeeded")
    assert done.status == "succeeded"
    assert_recent(done.end_time)


async def test_update_rollout_rejects_null_status_and_config(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"bad": "none"})
    with pytest.raises(ClientResponseError) as info:
        await client.update_rollout(started.rollout_id, status=None)  # type: ignore[arg-type]
    assert info.value.status == 400
    # The client itself fails on config=None (it calls .model_dump() on it).
    with pytest.raises(AttributeError):
        await client.update_rollout(started.rollout_id, config=None)  # type: ignore[arg-type]


async def test_update_attempt_none_vs_unset_and_latest(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"attempt": True})
    rid, aid = started.rollout_id, started.attempt.attempt_id
    worker = uid("attempt-worker")

    updated = await client.update_attempt(rid, aid, worker_id=worker, metadata={"stage": "init"})
    assert type(updated) is Attempt
    assert (updated.attempt_id, updated.worker_id, updated.metadata) == (aid, worker, {"stage": "init"})

    via_latest = await client.update_attempt(rid, "latest", worker_id="", metadata={})
    assert via_latest.attempt_id == aid
    assert (via_latest.worker_id, via_latest.metadata) == ("", {})

    kept = await client.update_attempt(rid, "latest", status="running", worker_id=UNSET, metadata=UNSET)
    assert (kept.worker_id, kept.metadata, kept.status) == ("", {}, "running")

    beat = time.time() - 5
    heartbeat = await client.update_attempt(rid, aid, last_heartbeat_time=beat)
    assert heartbeat.last_heartbeat_time == pytest.approx(beat)

    latest = await client.get_latest_attempt(rid)
    assert latest is not None
    assert (latest.status, latest.worker_id, latest.metadata) == ("running", "", {})


@pytest.mark.parametrize("field", ["status", "worker_id", "last_heartbeat_time", "metadata"])
async def test_update_attempt_rejects_null(client: LightningStoreClient, field: str) -> None:
    started = await client.start_rollout(input={"bad": field})
    with pytest.raises(ClientResponseError) as info:
        await client.update_attempt(started.rollout_id, started.attempt.attempt_id, **{field: None})
    assert info.value.status == 400


async def test_update_attempt_unknown_ids_raise(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"unknown": True})
    for rid, aid in [("ro-doesnotexist", "latest"), (started.rollout_id, "at-doesnotexist")]:
        with pytest.raises(ClientResponseError) as info:
            await client.update_attempt(rid, aid, status="running")
        assert info.value.status == 500


@pytest.mark.parametrize(
    "config, outcomes",
    [
        # max_attempts 2 with retry on failure: the first failure requeues, the second is final.
        (RolloutConfig(max_attempts=2, retry_condition=["failed"]), ["requeuing", "failed"]),
        # No retry condition: the first failure is final.
        (RolloutConfig(max_attempts=3), ["failed"]),
    ],
)
async def test_attempt_status_drives_rollout_status(
    client: LightningStoreClient, config: RolloutConfig, outcomes: list
) -> None:
    started = await client.start_rollout(input={"drive": outcomes}, config=config)
    rid = started.rollout_id
    for i, expected in enumerate(outcomes):
        if i > 0:
            await client.start_attempt(rid)
        failed = await client.update_attempt(rid, "latest", status="failed")
        assert failed.status == "failed"
        assert_recent(failed.end_time)
        rollout = await client.get_rollout_by_id(rid)
        assert rollout is not None and rollout.status == expected
    assert rollout.end_time is not None


async def test_success_ends_rollout_and_frees_worker(client: LightningStoreClient) -> None:
    worker = uid("succeed-worker")
    started = await client.start_rollout(input={"ok": True}, worker_id=worker)
    running = await client.update_attempt(started.rollout_id, "latest", status="running")
    assert running.end_time is None
    assert (await client.get_rollout_by_id(started.rollout_id)).status == "running"  # type: ignore[union-attr]

    done = await client.update_attempt(started.rollout_id, "latest", status="succeeded")
    assert_recent(done.end_time)
    rollout = await client.get_rollout_by_id(started.rollout_id)
    assert rollout is not None and rollout.status == "succeeded"
    assert_recent(rollout.end_time)

    idle = await client.get_worker_by_id(worker)
    assert idle is not None
    assert idle.status == "idle"
    assert (idle.current_rollout_id, idle.current_attempt_id) == (None, None)
    assert idle.last_idle_time is not None and idle.last_busy_time is not None
    assert idle.last_idle_time >= idle.last_busy_time


async def test_wait_for_rollouts(client: LightningStoreClient) -> None:
    done = await client.start_rollout(input={"wait": "done"})
    pending = await client.start_rollout(input={"wait": "pending"})
    await client.update_attempt(done.rollout_id, "latest", status="succeeded")

    ids = [done.rollout_id, pending.rollout_id, "ro-doesnotexist"]
    finished = await client.wait_for_rollouts(rollout_ids=ids, timeout=0)
    assert [type(r) for r in finished] == [Rollout]  # always plain Rollouts
    assert [(r.rollout_id, r.status) for r in finished] == [(done.rollout_id, "succeeded")]

    short = await client.wait_for_rollouts(rollout_ids=ids, timeout=0.05)
    assert [r.rollout_id for r in short] == [done.rollout_id]

    await client.update_rollout(pending.rollout_id, status="cancelled")
    both = await client.wait_for_rollouts(rollout_ids=ids, timeout=0)
    assert {(r.rollout_id, r.status) for r in both} == {
        (done.rollout_id, "succeeded"),
        (pending.rollout_id, "cancelled"),
    }
    assert await client.wait_for_rollouts(rollout_ids=[], timeout=0) == []

    with pytest.raises(ValueError):  # the client refuses long waits locally
        await client.wait_for_rollouts(rollout_ids=ids, timeout=0.2)


async def test_concurrent_enqueue_and_dequeue(fresh_client: LightningStoreClient) -> None:
    async def enqueue(batch: int) -> list[str]:
        rollouts = await fresh_client.enqueue_many_rollouts(
            [EnqueueRolloutRequest(input={"batch": batch, "i": i}) for i in range(3)]
        )
        return [r.rollout_id for r in rollouts]

    batches = await asyncio.gather(*(enqueue(b) for b in range(4)))
    enqueued = {rid for batch in batches for rid in batch}
    assert len(enqueued) == 12

    claims = await asyncio.gather(
        *(fresh_client.dequeue_many_rollouts(limit=2, worker_id=f"w{i}") for i in range(8))
    )
    claimed: list[Any] = [r.rollout_id for batch in claims for r in batch]
    assert len(claimed) == 12 and set(claimed) == enqueued  # each claimed exactly once
    assert await fresh_client.dequeue_rollout() is None
