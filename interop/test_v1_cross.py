"""One store, two API generations: a rollout made through Agent Lightning
v1.0's API (/api/*, as its client sends it: JSON over HTTP) is read through
v0.3's real LightningStoreClient, and the reverse, with the state mapping of
the v1.0 reference (§9). The v1.0 client itself runs in interop/v1 (its own
virtualenv: agentlightning 0.3.0 and 1.0 cannot share one).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Tuple

import pytest
from aiohttp import ClientResponseError
from agentlightning.store.client_server import LightningStoreClient

from helpers import make_span, uid

pytestmark = pytest.mark.collector_only


def v1(base: str, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            payload = resp.read()
            status = resp.status
    except urllib.error.HTTPError as err:
        status, payload = err.code, err.read()
    return status, (json.loads(payload) if payload else None)


MODEL_REQUEST = {
    "model": "m", "model_version": 0, "http_status": 200, "status": "ok",
    "request": {"model": "m", "messages": [{"role": "user", "content": "2+2?"}], "return_token_ids": True},
    "response": {"model": "m", "prompt_token_ids": [11, 12, 13],
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "4"}, "token_ids": [14, 15]}]},
    "server": {"model": "m", "endpoint": "http://127.0.0.1:9/v1", "version": 0},
}


async def test_v1_rollout_read_through_v03_client(fresh_collector, fresh_client: LightningStoreClient) -> None:
    collector, client = fresh_collector, fresh_client
    rid = uid("v1")
    status, created = v1(collector.url, "POST", "/api/rollouts", [{"rollout_id": rid, "input": {"q": "2+2"}, "is_train": False}])
    assert status == 201 and created[0]["status"]["state"] == "queuing"

    r = await client.get_rollout_by_id(rid)
    assert r is not None and r.status == "queuing" and r.input == {"q": "2+2"} and r.mode == "val"
    # A v1.0 rollout never enters v0.3's queue: a v0.3 runner would run it twice.
    queued = await client.query_rollouts(status_in=["queuing"])
    assert [x.rollout_id for x in queued] == [rid]
    assert await client.dequeue_rollout(worker_id="w") is None

    assert v1(collector.url, "PATCH", f"/api/rollouts/{rid}", {"status": {"state": "running", "last_attempt_id": "0"}})[0] == 200
    assert v1(collector.url, "POST", f"/api/rollouts/{rid}/attempt/0/events",
              {"event_type": "model_request", "data": MODEL_REQUEST})[0] == 200
    assert v1(collector.url, "POST", f"/api/rollouts/{rid}/attempt/0/events",
              {"event_type": "reward", "data": {"value": 1.0}})[0] == 200

    r = await client.get_rollout_by_id(rid)
    assert r.status == "running" and r.attempt is not None and r.attempt.attempt_id == "0" and r.attempt.status == "running"
    spans = await client.query_spans(rid, "0")
    # In posting order. (The chat record the messages connector makes of the
    # call takes a number from the same per-rollout counter.)
    assert len(spans) == 2 and spans[0].sequence_id < spans[1].sequence_id
    llm, reward = spans
    assert list(llm.attributes["prompt_token_ids"]) == [11, 12, 13]
    assert list(llm.attributes["response_token_ids"]) == [14, 15]
    assert llm.attributes["gen_ai.request.model"] == "m"
    assert reward.name == "agentlightning.annotation"
    assert reward.attributes["agentlightning.reward.0.value"] == 1.0

    assert v1(collector.url, "PATCH", f"/api/rollouts/{rid}", {"status": {"state": "succeeded"}})[0] == 200
    done = await client.wait_for_rollouts(rollout_ids=[rid], timeout=0)
    assert [d.status for d in done] == ["succeeded"]
    # v0.3 cannot move a v1.0 rollout's state, and v1.0's guard keeps it final.
    with pytest.raises(ClientResponseError):
        await client.update_rollout(rid, status="queuing")
    assert (await client.get_rollout_by_id(rid)).status == "succeeded"
    status, body = v1(collector.url, "PATCH", f"/api/rollouts/{rid}", {"status": {"state": "failed"}})
    assert status == 409 and body == {"detail": f"Rollout {rid}: cannot transition succeeded -> failed"}


async def test_v03_rollout_read_through_v1_api(collector, client: LightningStoreClient) -> None:
    iid = uid("inst")
    queued = await client.enqueue_rollout(input={"instance_id": iid})
    rid = queued.rollout_id
    status, got = v1(collector.url, "GET", f"/api/rollouts/{rid}")
    assert status == 200 and got["attempts"] == []
    assert got["rollout"]["status"]["state"] == "queuing" and got["rollout"]["status"]["version"] == 1
    # Never listed to a v1.0 controller, which would spawn it.
    status, listed = v1(collector.url, "GET", "/api/rollouts?state_in=queuing&limit=100000")
    assert status == 200 and all(x["rollout_id"] != rid for x in listed)

    _, before = v1(collector.url, "GET", "/api/rollouts/terminal?limit=1")
    total_before = before["total_terminal"]

    # Claimed by a v0.3 worker: preparing shows as running. (The shared
    # session store may hold older queued rollouts: dequeue until ours.)
    attempt = None
    for _ in range(1000):
        claimed = await client.dequeue_rollout(worker_id=uid("w"))
        assert claimed is not None
        if claimed.rollout_id == rid:
            attempt = claimed.attempt
            break
    assert attempt is not None
    span = make_span(rid, attempt.attempt_id, 1, "chat m", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
        "prompt_token_ids": [1, 2, 3], "response_token_ids": [4, 5]})
    await client.add_span(span)
    status, got = v1(collector.url, "GET", f"/api/rollouts/{rid}")
    assert got["rollout"]["status"]["state"] == "running"
    assert got["rollout"]["status"]["last_attempt_id"] == attempt.attempt_id
    assert got["attempts"] == [attempt.attempt_id]

    # The v0.3 LLM span is a v1.0 model_request; format=triplet has its ids.
    _, events = v1(collector.url, "GET", f"/api/rollouts/{rid}/events?format=triplet")
    assert [e["event_type"] for e in events] == ["model_request"]
    assert events[0]["data"]["prompt_token_ids"] == [1, 2, 3]
    assert events[0]["data"]["response_token_ids"] == [4, 5]

    status, body = v1(collector.url, "PATCH", f"/api/rollouts/{rid}", {"status": {"state": "succeeded"}})
    assert status == 409, body

    await client.update_attempt(rid, attempt.attempt_id, status="succeeded")
    _, page = v1(collector.url, "GET", f"/api/rollouts/terminal?after={total_before}")
    assert {"rollout_id": rid, "state": "succeeded", "data_id": iid, "is_train": True} in page["items"]
    _, got = v1(collector.url, "GET", f"/api/rollouts/{rid}")
    assert got["rollout"]["status"]["state"] == "succeeded"
    assert got["rollout"]["status"]["version"] >= 3

    # Cancelled has no v1.0 state: failed, with the reason.
    other = await client.enqueue_rollout(input={"n": 1})
    await client.update_rollout(other.rollout_id, status="cancelled")
    _, got = v1(collector.url, "GET", f"/api/rollouts/{other.rollout_id}")
    assert got["rollout"]["status"]["state"] == "failed" and got["rollout"]["status"]["error_message"] == "cancelled"
