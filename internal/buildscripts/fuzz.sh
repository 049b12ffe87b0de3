#!/usr/bin/env bash
# Runs every Go fuzz target of the repository (every `func FuzzXxx` in a
# _test.go file) for a bounded time each.
#
#   internal/buildscripts/fuzz.sh              # FUZZTIME=10s per target
#   FUZZTIME=2m internal/buildscripts/fuzz.sh  # longer
#   FUZZ_TARGETS='FuzzHandler FuzzUnflatten' internal/buildscripts/fuzz.sh
#
# Seeds come from each target's f.Add calls and its committed corpus in
# testdata/fuzz/<Target>/. A failure writes the failing input there (commit
# it with the fix: it becomes a regression test of `go test`).
#
# Minimization of new inputs is capped (-fuzzminimizetime): with the large
# coverage map of this module it would otherwise take up to a minute per
# input and leave no time to fuzz.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${ROOT}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
FUZZTIME="${FUZZTIME:-10s}"
only=" ${FUZZ_TARGETS:-} "

# fuzz_one runs one target. Go's fuzzing engine sometimes ends a run with
# "context deadline exceeded" and no failing input when -fuzztime expires
# while a worker is busy (worse on a loaded machine); that is not a finding,
# so such a run is repeated once. A real failure writes its input under
# testdata/fuzz and fails at once.
fuzz_one() {
	local dir="$1" fn="$2" out attempt
	out="$(mktemp)"
	for attempt in 1 2; do
		if go test -run '^$' -fuzz "^${fn}\$" -fuzztime "${FUZZTIME}" -fuzzminimizetime 1s "${dir}" 2>&1 | tee "${out}"; then
			rm -f "${out}"
			return 0
		fi
		if [[ ${attempt} -eq 1 ]] && grep -q 'context deadline exceeded' "${out}" && ! grep -q 'Failing input written to' "${out}"; then
			echo "fuzz: ${fn}: the engine timed out without a failing input; running it again"
			continue
		fi
		break
	done
	rm -f "${out}"
	return 1
}

start=${SECONDS}
count=0
while IFS= read -r file; do
	dir="./$(dirname "${file#./}")"
	for fn in $(grep -oE '^func Fuzz[A-Za-z0-9_]*' "${file}" | cut -d' ' -f2); do
		if [[ "${only}" != "  " && "${only}" != *" ${fn} "* ]]; then
			continue
		fi
		echo "==> ${dir} ${fn} (${FUZZTIME})"
		fuzz_one "${dir}" "${fn}"
		count=$((count + 1))
	done
done < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' \
	--exclude-dir=.git --exclude-dir=.venv --exclude-dir='.venv-*' --exclude-dir=node_modules --exclude-dir=dist . | sort)

echo "fuzz: ${count} targets in $((SECONDS - start)) s"
