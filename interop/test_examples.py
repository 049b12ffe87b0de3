"""The documented examples, run as a user runs them (short settings).

`go run ./examples/apo -agent examples/python-agent/agent.sh`: the collector
runs Agent Lightning's APO over a Python agent that uses the `openai` SDK with
the official OpenTelemetry instrumentation (no Agent Lightning import),
dispatched as one process per rollout; the optimised prompt must beat the seed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(900)  # builds, a first virtualenv and ~60 agent processes
def test_apo_over_the_python_agent() -> None:
    proc = subprocess.run(
        ["go", "run", "./examples/apo", "-agent", "examples/python-agent/agent.sh", "-timeout", "6m"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    match = re.search(r"seed ([0-9.]+) -> best ([0-9.]+)", proc.stdout)
    assert match, proc.stdout
    seed, best = float(match.group(1)), float(match.group(2))
    assert best > seed, proc.stdout
    assert re.search(r"(\d+) candidate prompts, each a resources version", proc.stdout), proc.stdout
