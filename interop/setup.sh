#!/usr/bin/env bash
# Create (or refresh) the repository's Python virtualenv for the interop suite.
#
#   interop/setup.sh            # .venv at the repository root
#   VENV=/some/dir interop/setup.sh
#
# Idempotent: the venv remembers a hash of requirements.txt and the interpreter
# version, and a second run with nothing changed returns in well under a second.
#
# agentlightning pulls in ~150 packages (litellm[proxy] alone is most of them).
# They are kept as wheels in a wheelhouse outside the repository
# (INTEROP_WHEELHOUSE, default ~/.cache/otelcol-lightning/wheels) and installed
# from there with --no-index: the package index is only contacted when the
# wheelhouse does not match requirements.txt yet. pip's own HTTP cache does not
# help here because the registry's responses are not cacheable.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${VENV:-$root/.venv}"
requirements="$here/requirements.txt"
wheelhouse="${INTEROP_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-lightning/wheels}"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
	echo "interop/setup.sh: $python not found (Python >= 3.10 is required)" >&2
	exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
	echo "interop/setup.sh: $("$python" -V 2>&1) is too old; agentlightning 0.3.0 needs Python >= 3.10" >&2
	exit 1
fi

# The OpenAI Node SDK that test_llmproxy.py also drives (interop/node, from
# its package-lock.json); without Node.js that test is skipped.
node_dir="$here/node"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	node_stamp="$node_dir/node_modules/.package-lock.sha256"
	node_hash="$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)"
	if [[ ! -f "$node_stamp" || "$(cat "$node_stamp")" != "$node_hash" ]]; then
		echo "interop/setup.sh: installing interop/node (npm ci)"
		npm ci --prefix "$node_dir" --ignore-scripts --no-audit --no-fund --loglevel=error
		echo "$node_hash" >"$node_stamp"
	fi
fi

# The stamp covers what the venv was built from: the requirements and the interpreter.
stamp_value="$({ cat "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp_file="$venv/.interop-requirements.sha256"

if [[ -x "$venv/bin/python" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp_value" ]]; then
	exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
	echo "interop/setup.sh: creating $venv"
	"$python" -m venv "$venv"
fi

pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
start=$SECONDS

# Fill the wheelhouse (downloads, and builds the few sdists such as gpustat)
# unless it was already filled from these exact requirements.
wheel_stamp="$wheelhouse/.requirements.sha256"
requirements_hash="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -f "$wheel_stamp" || "$(cat "$wheel_stamp")" != "$requirements_hash" ]]; then
	echo "interop/setup.sh: downloading wheels into $wheelhouse"
	mkdir -p "$wheelhouse"
	"${pip[@]}" wheel --progress-bar off -r "$requirements" -w "$wheelhouse"
	echo "$requirements_hash" >"$wheel_stamp"
fi

echo "interop/setup.sh: installing $(grep -c '^[A-Za-z0-9].*==' "$requirements") pinned packages into $venv"
"${pip[@]}" install --progress-bar off --no-index --find-links "$wheelhouse" -r "$requirements"
echo "interop/setup.sh: done in $((SECONDS - start))s"
echo "$stamp_value" >"$stamp_file"
