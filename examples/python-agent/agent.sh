#!/usr/bin/env bash
# Runs agent.py in the example's virtualenv (created on first use from
# requirements.txt), so command dispatch can run it as one executable.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"${here}/setup.sh" >&2
exec "${VENV:-${here}/../../.venv-examples}/bin/python" "${here}/agent.py"
