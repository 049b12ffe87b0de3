#!/usr/bin/env bash
# Creates the example's virtualenv with its pinned packages, once. A lock
# directory keeps concurrent agent processes from installing twice.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${VENV:-${here}/../../.venv-examples}"
stamp="${venv}/.requirements.txt"
if cmp -s "${here}/requirements.txt" "${stamp}" 2>/dev/null; then
  exit 0
fi
lock="${venv}.lock"
until mkdir "${lock}" 2>/dev/null; do sleep 0.5; done
trap 'rmdir "${lock}"' EXIT
if ! cmp -s "${here}/requirements.txt" "${stamp}" 2>/dev/null; then
  python3 -m venv "${venv}"
  "${venv}/bin/pip" install -q --disable-pip-version-check -r "${here}/requirements.txt"
  cp "${here}/requirements.txt" "${stamp}"
fi
