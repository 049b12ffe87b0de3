"""A sample Agent Lightning v1.0 agent, run by agl-controller in local mode.

The controller gives it AGL_OPENAI_BASE_URL (the gateway's LLM proxy for its
rollout), AGL_EVENT_URL and AGL_KEY; the question comes through the rollout's
env_map. It asks the model once, posts a reward and exits 0.

How the LLM call reaches the store (INTEROP_CAPTURE):

* ``proxy``  call AGL_OPENAI_BASE_URL, whose /proxy routes record the
             model_request event (the llmproxy receiver; v1.0's own path).
* ``event``  call the model directly (INTEROP_LLM_URL) and post the
             model_request event the proxy would have recorded.
* ``otlp``   call the model directly and send the call as an OTLP GenAI span
             (token ids as attributes) to the collector's /v1/traces: the
             event is then synthesised from the stored span.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.request
from typing import Any, Dict


def _post(url: str, body: Any, key: str = "") -> Dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
        payload = resp.read()
    return json.loads(payload) if payload else {}


def _otlp_span(rollout_id: str, request: Dict[str, Any], response: Dict[str, Any], start: float, end: float) -> Dict[str, Any]:
    def ints(ids):
        return {"arrayValue": {"values": [{"intValue": str(i)} for i in ids]}}

    attrs = [
        {"key": "agentlightning.rollout_id", "value": {"stringValue": rollout_id}},
        {"key": "agentlightning.attempt_id", "value": {"stringValue": "0"}},
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.request.model", "value": {"stringValue": request["model"]}},
        {"key": "gen_ai.response.model", "value": {"stringValue": response.get("model", request["model"])}},
        {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
            [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in request["messages"]])}},
        {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": response["choices"][0]["message"]["content"]}],
              "finish_reason": "stop"}])}},
        {"key": "prompt_token_ids", "value": ints(response["prompt_token_ids"])},
        {"key": "response_token_ids", "value": ints(response["choices"][0]["token_ids"])},
    ]
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "calc-agent"}}]},
                               "scopeSpans": [{"scope": {"name": "calc-agent"}, "spans": [{
                                   "traceId": secrets.token_hex(16), "spanId": secrets.token_hex(8),
                                   "name": "chat " + request["model"], "kind": 3,
                                   "startTimeUnixNano": str(int(start * 1e9)), "endTimeUnixNano": str(int(end * 1e9)),
                                   "attributes": attrs, "status": {"code": 1}}]}]}]}


class CalcAgent:
    def run(self) -> None:
        key = os.environ["AGL_KEY"]
        event_url = os.environ["AGL_EVENT_URL"]
        rollout_id = event_url.split("/api/rollouts/")[1].split("/")[0]
        question = os.environ.get("QUESTION", "1+1")
        capture = os.environ.get("INTEROP_CAPTURE", "proxy")
        request = {"model": os.environ.get("INTEROP_MODEL", "llmmock"), "temperature": 1.0,
                   "messages": [{"role": "user", "content": f"What is {question}?"}]}
        start = time.time()
        if capture == "proxy":
            response = _post(os.environ["AGL_OPENAI_BASE_URL"] + "/chat/completions", request, key)
        else:
            request.update({"return_token_ids": True})
            response = _post(os.environ["INTEROP_LLM_URL"] + "/v1/chat/completions", request)
        end = time.time()
        if capture == "event":
            _post(event_url, {"event_type": "model_request", "data": {
                "model": request["model"], "model_version": 0, "request": request, "response": response,
                "server": {"model": request["model"], "endpoint": os.environ["INTEROP_LLM_URL"] + "/v1", "version": 0},
                "latency_ms": (end - start) * 1000, "http_status": 200, "status": "ok", "retry_count": 0,
                "usage": response.get("usage"), "finish_reason": response["choices"][0].get("finish_reason")}}, key)
        elif capture == "otlp":
            base = event_url.split("/api/rollouts/")[0]
            _post(base + "/v1/traces", _otlp_span(rollout_id, request, response, start, end), key)
        answer = response["choices"][0]["message"]["content"]
        _post(event_url, {"event_type": "reward", "data": {"value": 1.0 if "4" in answer else 0.0,
                                                          "source": "agent", "reason": "contains 4"}}, key)
