"""The v1.0 contract, checked against agentlightning 1.0's own gateway.

The same sequence of requests goes to the reference gateway (agl-server) and
to the collector; every answer must have the same status code and, once the
values that differ by nature (timestamps, generated ids) are masked, the same
JSON body (or the same plain-text body for 500s). The sequence covers every
route of the reference's §3 (except /proxy, served by the llmproxy receiver),
its auth, its 404/409/422 bodies and the state machine of §4.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from conftest import KEY

HEX32 = re.compile(r"^[0-9a-f]{32}$")
TIME_KEYS = {"created_at", "updated_at", "timestamp"}


def call(base: str, method: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
         raw: Optional[bytes] = None) -> Tuple[int, Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    hdrs = {"Authorization": f"Bearer {KEY}"} if headers is None else dict(headers)
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, payload = err.code, err.read()
    if not payload:
        return status, None
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


def mask(v: Any) -> Any:
    """Mask what legitimately differs between two servers."""
    if isinstance(v, dict):
        return {k: ("<time>" if k in TIME_KEYS and isinstance(x, (int, float)) else mask(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [mask(x) for x in v]
    if isinstance(v, str) and HEX32.match(v):
        return "<uuid>"
    return v


MODEL_REQUEST = {
    "model": "Qwen/Qwen3-8B",
    "model_version": 0,
    "request": {"model": "Qwen/Qwen3-8B", "temperature": 1.0, "messages": [{"role": "user", "content": "1+1?"}],
                "return_token_ids": True, "logprobs": True},
    "response": {
        "id": "chatcmpl-1", "object": "chat.completion", "model": "Qwen/Qwen3-8B",
        "prompt_token_ids": [101, 102, 103],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "2"}, "finish_reason": "stop",
                     "token_ids": [7, 8],
                     "logprobs": {"content": [{"token": "2", "logprob": -0.25}, {"token": "<eos>", "logprob": -0.5}]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    },
    "server": {"model": "Qwen/Qwen3-8B", "endpoint": "http://10.0.0.5:8000/v1", "version": 0},
    "latency_ms": 812.4, "http_status": 200, "status": "ok", "retry_count": 0,
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}, "finish_reason": "stop",
}


def follow_up(prompt: List[int], tokens: List[int], status: int = 200) -> Dict[str, Any]:
    ev = json.loads(json.dumps(MODEL_REQUEST))
    ev["response"]["prompt_token_ids"] = prompt
    ev["response"]["choices"][0]["token_ids"] = tokens
    ev["response"]["choices"][0]["logprobs"] = {"content": [{"logprob": -1.0}] * len(tokens)}
    ev["http_status"] = status
    if status >= 400:
        ev["status"] = "error"
        ev["response"] = {"error": {"message": "upstream failed"}}
    return ev


def steps() -> List[Tuple[str, str, Any, Dict[str, Any]]]:
    """(method, path, body, options) in order; options: headers (replacing the key), raw (a body sent as is)."""
    no_auth: Dict[str, str] = {}
    s: List[Tuple[str, str, Any, Dict[str, Any]]] = [
        ("GET", "/healthz", None, {"headers": no_auth}),
        ("GET", "/api/rollouts?state_in=queuing", None, {"headers": no_auth}),
        ("GET", "/api/rollouts?state_in=queuing", None, {"headers": {"Authorization": "Bearer wrong"}}),
        ("GET", "/api/rollouts?state_in=queuing", None, {"headers": {"Authorization": f"bearer {KEY}"}}),
        ("GET", "/api/rollouts?state_in=queuing", None, {"headers": {"x-api-key": KEY}}),
        ("POST", "/api/models", [], {"headers": no_auth}),
        ("POST", "/api/rollouts", [], {}),
        ("POST", "/api/rollouts", {"input": 1}, {}),
        ("POST", "/api/rollouts", None, {"raw": b"{not json"}),
        ("POST", "/api/rollouts", None, {"raw": b"[1,]"}),
        ("POST", "/api/rollouts", None, {"raw": b'[{"input" 1}]'}),
        ("POST", "/api/rollouts", None, {"raw": b"[1 2]"}),
        ("POST", "/api/rollouts", None, {"raw": b'["abc'}),
        ("POST", "/api/rollouts", None, {"raw": b"[] x"}),
        ("POST", "/api/rollouts", None, {"raw": b'[{"input":1,}]'}),
        ("POST", "/api/rollouts", None, {"raw": b'[{"input":"\\q"}]'}),
        ("POST", "/api/rollouts", [{"is_train": True}], {}),
        ("POST", "/api/rollouts", [5, {"input": 1, "is_train": "maybe"}], {}),
        ("POST", "/api/rollouts", [{"input": 1, "config": {"timeout_seconds": "abc"}}], {}),
        ("POST", "/api/rollouts", [{"input": 1, "config": 5}], {}),
        ("POST", "/api/rollouts", [{"input": 1, "config": {"local": {"env_map": {"A": 1}}}}], {}),
        ("POST", "/api/rollouts", [{"input": 1, "rollout_id": 7}], {}),
        ("POST", "/api/rollouts", [{"input": 1, "metadata": {"batch_idx": "x"}}], {}),
        ("POST", "/api/rollouts", [
            {"input": {"data_id": "d1", "q": "1+1"}, "rollout_id": "r1",
             "metadata": {"batch_idx": 1, "extra": "x", "sample_idx_in_batch": "2"},
             "config": {"timeout_seconds": 60, "local": {"agent_class": "m:C", "env_map": {"Q": "input.q"}}, "unknown": 1}},
            {"input": None, "rollout_id": "r2", "is_train": False, "config": {"k8s": {"job_template": "t"}}},
            {"input": {"instance_id": "i3"}, "rollout_id": "r3", "is_train": "yes"},
        ], {}),
        ("POST", "/api/rollouts", [{"input": {"changed": True}, "rollout_id": "r1"},
                                   {"input": 1, "rollout_id": "r4"}, {"input": 2, "rollout_id": "r4"}], {}),
        ("POST", "/api/rollouts", [{"input": {"fresh": 1}}], {}),
        ("POST", "/api/rollouts", [{"input": "empty id", "rollout_id": ""}, {"input": "again", "rollout_id": ""}], {}),
        ("GET", "/api/rollouts?state_in=queuing", None, {}),
        ("GET", "/api/rollouts?state_in=queuing&state_in=running&limit=2", None, {}),
        ("GET", "/api/rollouts?state_in=queuing&limit=-1", None, {}),
        ("GET", "/api/rollouts", None, {}),
        ("GET", "/api/rollouts?state_in=bogus&state_in=queuing&state_in=cancelled", None, {}),
        ("GET", "/api/rollouts?state_in=queuing&limit=abc", None, {}),
        ("GET", "/api/rollouts/r1", None, {}),
        ("GET", "/api/rollouts/nope", None, {}),
        ("PATCH", "/api/rollouts/r1", {}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": None}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {}, "other": 1}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"bogus": 1, "state": "nope"}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": 5}, {}),
        ("PATCH", "/api/rollouts/r1", [], {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"state": None}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"state": "succeeded"}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"state": "queuing"}}, {}),
        ("PATCH", "/api/rollouts/nope", {"status": {"state": "running"}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"state": "running", "last_attempt_id": "0"}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"state": "running"}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"k8s_job_name": "job-1", "error_message": None}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"k8s_job_name": None}}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events", {"event_type": "model_request", "data": MODEL_REQUEST}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events", {"event_type": "note"}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events",
         {"event_type": "model_request", "data": follow_up([101, 102, 103, 7, 8, 200], [9])}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events",
         {"event_type": "model_request", "data": follow_up([101, 102, 103], [5, 6])}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events", {"event_type": "model_request", "data": follow_up([], [], 500)}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events", {"event_type": "model_request", "data": follow_up([], [], 502)}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events",
         {"event_type": "reward", "data": {"value": 1.0, "source": "agent", "reason": "em", "message": "ok", "x": 1}}, {}),
        ("POST", "/api/rollouts/r1/attempt/1/events", {"event_type": "reward", "data": {"value": 0.5}}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events", {"data": {}}, {}),
        ("POST", "/api/rollouts/r1/attempt/0/events", {"event_type": "x", "data": 5}, {}),
        ("POST", "/api/rollouts/nope/attempt/0/events", {"event_type": "reward", "data": {"value": 1}}, {}),
        ("POST", "/api/rollouts/r2/attempt/0/events", {"event_type": "reward", "data": {"value": 2}}, {}),
        ("GET", "/api/rollouts/r1/events", None, {}),
        ("GET", "/api/rollouts/r1/events?event_type=reward", None, {}),
        ("GET", "/api/rollouts/r1/events?format=triplet", None, {}),
        ("GET", "/api/rollouts/r1/events?format=other&event_type=model_request", None, {}),
        ("GET", "/api/rollouts/r2/events", None, {}),
        ("GET", "/api/rollouts/nope/events", None, {}),
        ("GET", "/api/rollouts/r1", None, {}),
        ("PATCH", "/api/rollouts/r2", {"status": {"state": "running"}}, {}),
        ("PATCH", "/api/rollouts/r3", {"status": {"state": "failed", "error_message": "spawn error"}}, {}),
        ("GET", "/api/rollouts/terminal", None, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"state": "succeeded"}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"state": "failed"}}, {}),
        ("PATCH", "/api/rollouts/r1", {"status": {"error_message": "late"}}, {}),
        ("PATCH", "/api/rollouts/r2", {"status": {"state": "failed", "error_message": "exit 1"}}, {}),
        ("GET", "/api/rollouts/terminal", None, {}),
        ("GET", "/api/rollouts/terminal?after=1&limit=1", None, {}),
        ("GET", "/api/rollouts/terminal?after=-3&limit=0", None, {}),
        ("GET", "/api/rollouts/terminal?after=abc", None, {}),
        ("GET", "/api/rollouts?state_in=succeeded&state_in=failed", None, {}),
        ("DELETE", "/api/rollouts/r2", None, {}),
        ("DELETE", "/api/rollouts/r2", None, {}),
        ("GET", "/api/rollouts/r2", None, {}),
        ("GET", "/api/rollouts/r2/events", None, {}),
        ("GET", "/api/rollouts/terminal", None, {}),
        ("GET", "/api/rollouts/terminal?after=2", None, {}),
        ("POST", "/api/models", [{"model": "m", "endpoint": "http://b/v1"}, {"model": "m", "endpoint": "http://a/v1", "version": 2}], {}),
        ("POST", "/api/models", [{"model": "m", "endpoint": "http://b/v1", "version": "3"}], {}),
        ("POST", "/api/models", [{"model": "m"}, {"endpoint": 5}], {}),
        ("POST", "/api/models", {"model": "m"}, {}),
        ("DELETE", "/api/models", None, {}),
        ("PUT", "/api/rollouts", [], {}),
        ("DELETE", "/api/rollouts", None, {}),
        ("GET", "/api/models", None, {}),
        ("GET", "/api/nothing", None, {}),
        ("GET", "/healthz/x", None, {"headers": {}}),
    ]
    return s


def test_every_route_answers_as_the_reference(collector, reference) -> None:
    mismatches = []
    for i, (method, path, body, opts) in enumerate(steps()):
        want = call(reference.url, method, path, body, opts.get("headers"), opts.get("raw"))
        got = call(collector.url, method, path, body, opts.get("headers"), opts.get("raw"))
        same = want[0] == got[0] and mask(want[1]) == mask(got[1])
        if not same:
            mismatches.append(f"#{i} {method} {path} {json.dumps(body)[:100]}\n  reference: {want[0]} {json.dumps(mask(want[1]))[:1500]}\n  collector: {got[0]} {json.dumps(mask(got[1]))[:1500]}")
    assert not mismatches, "\n".join(mismatches)
