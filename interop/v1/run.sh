#!/usr/bin/env bash
# Run the Agent Lightning v1.0 interop suite: the real agentlightning 1.0.x
# (its reference gateway, client, local controller and AglRolloutManager)
# against the collector built from this tree. Extra arguments go to pytest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$root/.venv-v1}"

VENV="$venv" "$here/setup.sh"
cd "$root"
exec timeout --kill-after=30 "${INTEROP_TIMEOUT:-600}" "$venv/bin/python" -m pytest -q -c interop/v1/pytest.ini interop/v1 "$@"
