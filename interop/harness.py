"""Processes under test: the otelcol-lightning collector, the Python reference
store (for validating the suite itself) and the Go OpenAI-compatible mock.

Everything listens on loopback ports picked at start-up. A store process keeps
its ports and its data directory across stop()/start(), which is what the
restart tests rely on.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTOR_CONFIG = Path(os.environ.get("INTEROP_COLLECTOR_CONFIG", REPO_ROOT / "config" / "collector.yaml"))
HEALTH_PATH = "/v1/agl/health"

# Every child process still running when the interpreter exits is killed, even
# if pytest was interrupted before its fixtures could tear down.
_live: Dict[int, subprocess.Popen] = {}


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live.values()):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def _load_prctl():
    # Resolved once in the parent: the child of a multi-threaded parent must not
    # dlopen between fork and exec.
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl() if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGTERM the child when pytest dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A loopback port that was free a moment ago (the OS does not reuse it at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def go_build(package: str, output: Path, timeout: float = 1200.0) -> Path:
    """Build a Go main package of this repository, statically (CGO_ENABLED=0)."""
    env = dict(os.environ, CGO_ENABLED="0")
    result = subprocess.run(
        ["go", "build", "-o", str(output), package],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"go build {package} failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return output


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


class StoreProcess:
    """A LightningStore-compatible server running as a child process."""

    #: How long start() waits for GET /v1/agl/health.
    start_timeout: float = 60.0
    #: Whether data survives stop()/start().
    durable: bool = True

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.name = name
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{name}.log"
        self.api_port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0

    # --- what subclasses define -------------------------------------------------
    def command(self) -> List[str]:
        raise NotImplementedError

    def environment(self) -> Dict[str, str]:
        return dict(os.environ)

    # --- lifecycle ---------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL a LightningStoreClient is given."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "StoreProcess":
        if self.running:
            return self
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if _prctl is not None else None,
            )
        _live[self.proc.pid] = self.proc
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode} before becoming healthy:\n{self.log_tail()}"
                )
            if _http_ok(self.url + HEALTH_PATH):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} was not healthy within {self.start_timeout}s:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> Optional[int]:
        """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        _live.pop(proc.pid, None)
        return proc.returncode

    def restart(self) -> "StoreProcess":
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Collector(StoreProcess):
    """The otelcol-lightning binary with config/collector.yaml, every port on loopback."""

    start_timeout = 60.0
    durable = True

    def __init__(
        self, binary: Path, workdir: Path, name: str = "collector", extra_env: Optional[Dict[str, str]] = None
    ) -> None:
        super().__init__(workdir, name)
        self.binary = binary
        self.extra_env = dict(extra_env or {})
        #: Configuration files merged over config/collector.yaml, in order.
        self.extra_configs: List[Path] = []
        self.ports = {
            "LIGHTNING_OTLP_GRPC_ENDPOINT": free_port(),
            "LIGHTNING_OTLP_HTTP_ENDPOINT": free_port(),
            "LIGHTNING_HEALTH_ENDPOINT": free_port(),
            "LIGHTNING_METRICS_PORT": free_port(),
            "LIGHTNING_LLMPROXY_ENDPOINT": free_port(),
        }

    def command(self) -> List[str]:
        overlays = [arg for path in self.extra_configs for arg in ("--config", str(path))]
        return [str(self.binary), "--config", str(COLLECTOR_CONFIG), *overlays]

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ)
        env["LIGHTNING_API_ENDPOINT"] = f"127.0.0.1:{self.api_port}"
        env["LIGHTNING_DATA_DIR"] = str(self.data_dir)
        for key, port in self.ports.items():
            env[key] = str(port) if key == "LIGHTNING_METRICS_PORT" else f"127.0.0.1:{port}"
        env.update(self.extra_env)
        return env

    @property
    def proxy_url(self) -> str:
        """The LLM proxy's base URL (an OpenAI client's base_url is this plus /v1)."""
        return f"http://127.0.0.1:{self.ports['LIGHTNING_LLMPROXY_ENDPOINT']}"

    @property
    def otlp_http_url(self) -> str:
        """The collector's standard OTLP/HTTP receiver (not the store API port)."""
        return f"http://127.0.0.1:{self.ports['LIGHTNING_OTLP_HTTP_ENDPOINT']}"


class ReferenceStore(StoreProcess):
    """Agent Lightning's own `agl store` server (in-memory): the suite's yardstick.

    Running the suite against it checks the tests themselves; every test should
    pass here except those marked `durable`.
    """

    start_timeout = 120.0  # importing agentlightning takes ~10 s on a busy machine
    durable = False

    def command(self) -> List[str]:
        return [
            sys.executable,
            "-m",
            "agentlightning.cli.store",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.api_port),
            "--log-level",
            "WARNING",
        ]

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        return env


class LLMMock:
    """The Go OpenAI-compatible mock (internal/llmmock/cmd/llmmock) on a free port."""

    _banner = re.compile(r"llmmock listening on (http://\S+)")

    def __init__(self, binary: Path, workdir: Path, reply: str, extra_args: Sequence[str] = ()) -> None:
        self.binary = binary
        self.extra_args = list(extra_args)
        self.log_path = workdir / "llmmock.log"
        self.reply = reply
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> "LLMMock":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "-addr", "127.0.0.1:0", "-reply", self.reply, *self.extra_args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                preexec_fn=_die_with_parent if _prctl is not None else None,
            )
        _live[self.proc.pid] = self.proc
        assert self.proc.stdout is not None
        # The banner is the first line; readline returns "" if the mock dies first.
        line = self.proc.stdout.readline()
        match = self._banner.search(line)
        if not match:
            self.stop()
            raise RuntimeError(f"llmmock did not start: {line!r}\n{self.log_path.read_text(errors='replace')}")
        self.url = match.group(1)
        deadline = time.monotonic() + timeout
        while not _http_ok(self.url + "/health"):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("llmmock /health never answered")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        _live.pop(proc.pid, None)


def stop_all(processes: Sequence[StoreProcess]) -> None:
    for p in processes:
        with contextlib.suppress(Exception):
            p.stop()
