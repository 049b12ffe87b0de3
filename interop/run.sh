#!/usr/bin/env bash
# Run the Python interop suite: the real Agent Lightning client against the
# collector built from this tree. The exit code is pytest's (or 124 on timeout).
#
#   interop/run.sh                       # whole suite
#   interop/run.sh -k retry              # extra arguments go to pytest
#   INTEROP_TIMEOUT=1200 interop/run.sh  # overall wall-clock limit in seconds (default 900)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${VENV:-$root/.venv}"

VENV="$venv" "$here/setup.sh"

cd "$root"
# --kill-after: pytest gets SIGTERM first so its fixtures stop the collector.
exec timeout --kill-after=30 "${INTEROP_TIMEOUT:-900}" \
	"$venv/bin/python" -m pytest -q interop "$@"
