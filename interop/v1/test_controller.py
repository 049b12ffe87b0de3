"""The deepest v1.0 path that runs without a GPU, against the collector.

agentlightning 1.0's trainer-side client (AglRolloutManager: register the
model, create rollouts with client ids, poll, read events and triplets,
delete) and its local controller (agl-controller runner_type=local: list,
claim, spawn the agent, patch the outcome) run for real; the agent is
interop/v1/agents/calc_agent.py asking the Go mock model. What only verl on
a GPU does (the PPO update) is not run.

The "proxy" variant calls the model through the llmproxy receiver's v1.0
route (/proxy/rollout/...; collector-auth.yaml sets agl_v1.model_name to the
model the manager registers); the "event" and "otlp" variants have the agent
record its call itself (as the model_request event the proxy would write, or
as an OTLP span), which exercises the same store path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from agentlightning.client import AgentLightningSyncClient
from agentlightning.verl.agl_rollout_manager import AglRolloutManager

from conftest import HERE, KEY


def _serves_proxy(collector) -> bool:
    req = urllib.request.Request(collector.url + "/proxy/state", headers={"Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture(params=["event", "otlp", "proxy"])
def controller(request, collector, llm_mock, tmp_path: Path) -> Iterator[str]:
    if request.param == "proxy" and not _serves_proxy(collector):
        pytest.skip("no /proxy routes: the llmproxy receiver is not in this build or not in collector-auth.yaml")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE / "agents"), env.get("PYTHONPATH", "")])
    env["INTEROP_CAPTURE"] = request.param
    env["INTEROP_LLM_URL"] = llm_mock.url
    log = open(tmp_path / "controller.log", "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "agl-controller"), "runner_type=local", f"agl_server.url={collector.url}",
         f"agl_server.key={KEY}", "local_runner.poll_interval=0.5", f"hydra.run.dir={tmp_path}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        yield request.param
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _v03_spans(collector, rollout_id: str):
    req = urllib.request.Request(collector.url + "/v1/agl/spans/search", method="POST",
                                 data=json.dumps({"rollout_id": rollout_id}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def test_rollout_manager_and_local_controller(collector, controller, llm_mock) -> None:
    client = AgentLightningSyncClient(base_url=collector.url, key=KEY)
    manager = AglRolloutManager(agl_base_url=collector.url, agl_key=KEY, model="llmmock", step=0, train_rollout_n=2,
                                rollout_timeout_seconds=60, poll_interval_seconds=0.2,
                                local_agent_class="calc_agent:CalcAgent", local_env_map={"QUESTION": "input.question"})
    manager.register_model([llm_mock.url.removeprefix("http://")])
    models = json.loads(urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - loopback
        collector.url + "/api/models", method="POST", data=b"[]",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})).read())
    assert models == []

    before = client.get("/api/rollouts/terminal").json()["total_terminal"]
    done = manager.enqueue_and_wait_until_completed({"question": ["2+2", "1+3"]}, is_train=True)

    assert len(done) == 4
    for c in done:
        assert c.rollout_state == "succeeded", c.error_message
        assert c.final_reward == 1.0
        assert len(c.triplets) == 1
        t = c.triplets[0]
        # Exact token ids: the mock's, as the agent received them.
        prompt_ids = t.prompt["token_ids"]
        assert prompt_ids and all(isinstance(i, int) for i in prompt_ids)
        assert t.response["token_ids"] and t.reward == 1.0
        kinds = [e["event_type"] for e in c.events]
        assert kinds == ["model_request", "reward"], kinds
        raw = c.events[0]["data"]
        if controller == "event":
            assert raw["response"]["prompt_token_ids"] == prompt_ids
            assert raw["response"]["choices"][0]["token_ids"] == t.response["token_ids"]
        else:
            assert raw["server"]["model"] == "llmmock"
    # The samples' two copies share the question, so their prompts are equal.
    by_data = {}
    for c in done:
        by_data.setdefault(c.data_id, []).append(c.triplets[0].prompt["token_ids"])
    assert all(len(v) == 2 and v[0] == v[1] for v in by_data.values())

    # The manager deleted every rollout after reading it; the completion log
    # keeps their positions.
    page = client.get("/api/rollouts/terminal", params={"after": before}).json()
    assert page["total_terminal"] == before + 4
    assert page["items"] == [] and page["next_after"] == before + 4
    for c in done:
        assert client.get(f"/api/rollouts/{c.rollout_id}").status_code == 404
        assert _v03_spans(collector, c.rollout_id)["items"] == []
