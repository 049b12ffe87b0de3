"""Fixtures: the real otelcol-lightning collector and the real Agent Lightning client.

Store fixtures (each yields a harness.StoreProcess; `.url` is the base URL for
LightningStoreClient, `.stop()/.start()/.restart()` keep ports and data dir):

* ``collector``        one process shared by the whole session. Tests using it
                       must not depend on global counts or on the rollout queue.
* ``fresh_collector``  a new process with an empty data dir for one test.

Client fixtures: ``client`` / ``fresh_client`` are LightningStoreClients bound to
those, with short retry delays so a failing call fails in well under a second
(the request path is otherwise exactly the production one).

``--store-impl=reference`` (or INTEROP_STORE_IMPL=reference) runs the same tests
against Agent Lightning's own Python store server instead of the collector, to
check the tests themselves. OTELCOL_LIGHTNING_BINARY=path skips the Go build.
"""

from __future__ import annotations

import os

# litellm (imported by agentlightning) fetches a model price list from the
# internet at import time unless told to use its bundled copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import signal
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator, List

import pytest

import harness
from agentlightning.store.client_server import LightningStoreClient

FAST_RETRY = dict(retry_delays=(0.05, 0.1), health_retry_delays=(0.05,))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-impl",
        choices=("go", "reference"),
        default=os.environ.get("INTEROP_STORE_IMPL", "go"),
        help="go: the otelcol-lightning collector (default); reference: agentlightning's own store server",
    )


def pytest_configure(config: pytest.Config) -> None:
    # run.sh's timeout sends SIGTERM: turn it into KeyboardInterrupt so fixtures
    # still stop the collector processes.
    def _interrupt(signum, frame):  # noqa: ANN001
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _interrupt)


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    if config.getoption("--store-impl") != "reference":
        return
    reasons = {
        "durable": "the Python reference store is in-memory: nothing survives a restart",
        "collector_only": "behaviour the collector adds beyond the Python reference store",
    }
    for item in items:
        for marker, reason in reasons.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def store_impl(pytestconfig: pytest.Config) -> str:
    return pytestconfig.getoption("--store-impl")


@pytest.fixture(scope="session")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bin")


@pytest.fixture(scope="session")
def collector_binary(bin_dir: Path, store_impl: str) -> Path:
    """otelcol-lightning built once per session from this tree."""
    if store_impl != "go":
        return Path("/nonexistent")
    prebuilt = os.environ.get("OTELCOL_LIGHTNING_BINARY")
    if prebuilt:
        return Path(prebuilt).resolve()
    return _build_or_fail("./cmd/otelcol-lightning", bin_dir / "otelcol-lightning")


@pytest.fixture(scope="session")
def llmmock_binary(bin_dir: Path) -> Path:
    return _build_or_fail("./internal/llmmock/cmd/llmmock", bin_dir / "llmmock")


@pytest.fixture(scope="session")
def store_factory(
    store_impl: str, collector_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], harness.StoreProcess]]:
    """Creates store processes (not started); all are stopped at session end."""
    created: List[harness.StoreProcess] = []

    def make(name: str) -> harness.StoreProcess:
        workdir = tmp_path_factory.mktemp(name)
        proc: harness.StoreProcess
        if store_impl == "go":
            proc = harness.Collector(collector_binary, workdir, name)
        else:
            proc = harness.ReferenceStore(workdir, name)
        created.append(proc)
        return proc

    yield make
    harness.stop_all(created)


def _build_or_fail(package: str, output: Path) -> Path:
    try:
        return harness.go_build(package, output)
    except RuntimeError as err:
        message = str(err)
    pytest.fail(message, pytrace=False)


def _start_or_fail(proc: harness.StoreProcess) -> harness.StoreProcess:
    try:
        return proc.start()
    except RuntimeError as err:
        message = str(err)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def collector(store_factory: Callable[[str], harness.StoreProcess]) -> Iterator[harness.StoreProcess]:
    proc = _start_or_fail(store_factory("shared"))
    yield proc
    proc.stop()


@pytest.fixture
def fresh_collector(
    store_factory: Callable[[str], harness.StoreProcess], request: pytest.FixtureRequest
) -> Iterator[harness.StoreProcess]:
    proc = _start_or_fail(store_factory(request.node.name[:40].replace("[", "-").replace("]", "")))
    yield proc
    code = proc.stop()
    # A collector that crashed during the test would otherwise go unnoticed.
    if code not in (None, 0, -signal.SIGTERM):
        pytest.fail(f"{proc.name} exited with code {code}:\n{proc.log_tail()}", pytrace=False)


@pytest.fixture
async def client(collector: harness.StoreProcess) -> AsyncIterator[LightningStoreClient]:
    c = LightningStoreClient(collector.url, **FAST_RETRY)
    yield c
    await c.close()


@pytest.fixture
async def fresh_client(fresh_collector: harness.StoreProcess) -> AsyncIterator[LightningStoreClient]:
    c = LightningStoreClient(fresh_collector.url, **FAST_RETRY)
    yield c
    await c.close()


@pytest.fixture(scope="session")
def llm_mock(llmmock_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.LLMMock]:
    mock = harness.LLMMock(llmmock_binary, tmp_path_factory.mktemp("llmmock"), reply="The answer is 4.")
    failure = ""
    try:
        mock.start()
    except RuntimeError as err:
        failure = str(err)
    if failure:
        pytest.fail(failure, pytrace=False)
    yield mock
    mock.stop()
