"""Fixtures of the Agent Lightning v1.0 interop suite.

* ``collector``   the otelcol-lightning binary (config/collector.yaml plus
                  collector-auth.yaml: SQLite store, v1.0's key on /api/*).
* ``reference``   agentlightning 1.0's own gateway (``agl-server``), in memory,
                  with the same key: the yardstick of the contract test.
* ``llm_mock``    the Go OpenAI-compatible mock with vLLM-style token ids.

Processes come from interop/harness.py (stdlib only), shared with the 0.3.0
suite. OTELCOL_LIGHTNING_BINARY=path skips the Go build.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import harness  # noqa: E402

HERE = Path(__file__).resolve().parent
KEY = "interop-v1-key"


def _healthz(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except OSError:
        return False


class V1Collector(harness.Collector):
    """The collector with v1.0's key on /api/*."""

    def command(self) -> List[str]:
        return super().command() + ["--config", str(HERE / "collector-auth.yaml")]

    def environment(self) -> Dict[str, str]:
        env = super().environment()
        env["AGL_KEY"] = KEY
        return env


class ReferenceGateway(harness.StoreProcess):
    """agentlightning 1.0's gateway: agl-server host=... port=... key=..."""

    start_timeout = 120.0
    durable = False

    def command(self) -> List[str]:
        return [str(Path(sys.executable).parent / "agl-server"), "host=127.0.0.1", f"port={self.api_port}", f"key={KEY}"]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"agl-server exited early:\n{self.log_tail()}")
            if _healthz(self.url):
                return
            time.sleep(0.1)
        raise RuntimeError(f"agl-server was not healthy:\n{self.log_tail()}")


@pytest.fixture(scope="session")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bin")


@pytest.fixture(scope="session")
def collector_binary(bin_dir: Path) -> Path:
    if os.environ.get("OTELCOL_LIGHTNING_BINARY"):
        return Path(os.environ["OTELCOL_LIGHTNING_BINARY"])
    return harness.go_build("./cmd/otelcol-lightning", bin_dir / "otelcol-lightning")


@pytest.fixture(scope="session")
def llmmock_binary(bin_dir: Path) -> Path:
    return harness.go_build("./internal/llmmock/cmd/llmmock", bin_dir / "llmmock")


@pytest.fixture()
def collector(collector_binary: Path, tmp_path: Path) -> Iterator[V1Collector]:
    proc = V1Collector(collector_binary, tmp_path / "collector")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture()
def reference(tmp_path: Path) -> Iterator[ReferenceGateway]:
    proc = ReferenceGateway(tmp_path / "reference", "agl-server")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def llm_mock(llmmock_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.LLMMock]:
    mock = harness.LLMMock(llmmock_binary, tmp_path_factory.mktemp("llmmock"), reply="The answer is 4.")
    mock.start()
    try:
        yield mock
    finally:
        mock.stop()
