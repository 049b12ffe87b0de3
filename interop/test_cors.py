"""CORS: the collector answers browsers as Agent Lightning 0.3.0's own store
server does. Both run with one allowed origin (the collector through its
`cors` settings, `agl store` through --cors-origin); the same requests go to
both, and the answers are compared header by header: a preflight is 200 `OK`
with every method, the requested headers, credentials and max age 600; a
simple request echoes the origin; a disallowed origin gets nothing (its
preflight 400)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import harness

ORIGIN = "http://localhost:3000"


class CORSCollector(harness.Collector):
    """The collector with config/collector.yaml plus the allowed origin."""

    def command(self) -> List[str]:
        overlay = self.workdir / "cors.yaml"
        overlay.write_text(f"extensions:\n  lightningstore:\n    cors:\n      allowed_origins: [{ORIGIN!r}]\n")
        return super().command() + ["--config", str(overlay)]


class CORSReference(harness.ReferenceStore):
    """`agl store` with the same allowed origin."""

    def command(self) -> List[str]:
        return super().command() + ["--cors-origin", ORIGIN]


def request(url: str, method: str, headers: Dict[str, str]) -> Tuple[int, Dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


# Headers whose values must agree; the others (date, server, content-length
# of JSON bodies) are each implementation's own.
CORS_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-max-age",
    "access-control-expose-headers",
)

CASES = {
    "preflight": ("OPTIONS", "/v1/agl/rollouts", {
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"}),
    "preflight, another method": ("OPTIONS", "/v1/agl/rollouts/ro-1", {
        "Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"}),
    "simple request": ("GET", "/v1/agl/health", {"Origin": ORIGIN}),
    "disallowed preflight": ("OPTIONS", "/v1/agl/rollouts", {
        "Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}),
    "disallowed request": ("GET", "/v1/agl/health", {"Origin": "http://elsewhere.example"}),
}


@pytest.fixture(scope="module")
def pair(store_impl: str, collector_binary: Path, tmp_path_factory: pytest.TempPathFactory):
    if store_impl != "go":
        pytest.skip("compares the collector with the reference server; runs in the collector suite")
    ours = CORSCollector(collector_binary, tmp_path_factory.mktemp("cors-collector"), "cors-collector")
    theirs = CORSReference(tmp_path_factory.mktemp("cors-reference"), "cors-reference")
    try:
        yield ours.start(), theirs.start()
    finally:
        harness.stop_all([ours, theirs])


@pytest.mark.parametrize("case", list(CASES))
def test_cors_matches_agent_lightning(pair, case: str) -> None:
    ours, theirs = pair
    method, path, headers = CASES[case]
    got = request(ours.url + path, method, headers)
    want = request(theirs.url + path, method, headers)
    assert got[0] == want[0], f"status: collector {got[0]}, Agent Lightning {want[0]}"
    for h in CORS_HEADERS:
        assert got[1].get(h) == want[1].get(h), f"{h}: collector {got[1].get(h)!r}, Agent Lightning {want[1].get(h)!r}"
    if method == "OPTIONS":
        assert got[2] == want[2], f"body: collector {got[2]!r}, Agent Lightning {want[2]!r}"
    if case == "preflight":
        assert got[0] == 200 and got[1]["access-control-max-age"] == "600"
