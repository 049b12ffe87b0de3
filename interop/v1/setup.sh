#!/usr/bin/env bash
# Create (or refresh) the virtualenv of the Agent Lightning v1.0 interop suite,
# beside the 0.3.0 one (interop/setup.sh): the two releases cannot share one.
#
#   interop/v1/setup.sh              # .venv-v1 at the repository root
#   VENV=/some/dir interop/v1/setup.sh
#
# agentlightning 1.0.x declares Requires-Python >= 3.12, but Debian 12 ships
# 3.11. Its code runs on 3.11 (the parts used here: the reference server,
# the client, the local controller, AglRolloutManager), so on an older
# interpreter the packages are installed with --ignore-requires-python.
# PYTHON=python3.12 picks another interpreter. Idempotent, like
# interop/setup.sh (a stamp of the requirements and the interpreter).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${VENV:-$root/.venv-v1}"
requirements="$here/requirements.txt"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
	echo "interop/v1/setup.sh: $("$python" -V 2>&1) is too old; agentlightning 1.0 needs Python >= 3.11 here (3.12 declared)" >&2
	exit 1
fi

stamp_value="$({ cat "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp_file="$venv/.interop-requirements.sha256"
if [[ -x "$venv/bin/python" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp_value" ]]; then
	exit 0
fi
if [[ ! -x "$venv/bin/python" ]]; then
	echo "interop/v1/setup.sh: creating $venv"
	"$python" -m venv "$venv"
fi

pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
flags=()
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
	flags+=(--ignore-requires-python)
fi
echo "interop/v1/setup.sh: installing $(grep -c '^[A-Za-z0-9].*==' "$requirements") pinned packages into $venv ${flags[*]}"
"${pip[@]}" install --progress-bar off "${flags[@]}" -r "$requirements"
echo "$stamp_value" >"$stamp_file"
