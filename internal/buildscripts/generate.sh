#!/usr/bin/env bash
# Regenerates the code that is produced by tools and committed to the repository,
# and checks that the committed copy is up to date.
#
#   generate.sh main [DEST]   ocb: builder-config.yaml -> DEST (default cmd/otelcol-lightning)
#   generate.sh mdatagen      mdatagen for every metadata.yaml in the repository
#   generate.sh all           both of the above
#   generate.sh check         regenerate into a temp dir and diff; exit 1 when stale
#
# The tools are pinned in internal/tools/go.mod (ocb v0.165.0, mdatagen v0.159.0)
# and run with `go tool`, so no binary has to be installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MANIFEST="${ROOT}/builder-config.yaml"
MAIN_DIR="cmd/otelcol-lightning"
# The files ocb generates for a distribution's main package. ocb's go.mod is not
# wanted: the whole distribution is one module whose go.mod is at the root.
GENERATED_MAIN_FILES=(main.go main_others.go main_windows.go components.go)

export CGO_ENABLED="${CGO_ENABLED:-0}"

tool() {
  go -C "${ROOT}/internal/tools" tool "$@"
}

# metadata_files lists every component's metadata.yaml, relative to ROOT.
metadata_files() {
  (cd "${ROOT}" && find . -name metadata.yaml \
    -not -path './.git/*' -not -path './internal/tools/*' -not -path './dist/*' \
    -not -path '*/testdata/*' -not -path './.venv/*' | sed 's|^\./||' | sort)
}

# generate_main DEST: runs ocb into a scratch directory and copies the generated
# Go files into DEST.
generate_main() {
  local dest="$1" work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN

  # ocb resolves `path:` entries relative to the working directory and has no
  # flag for the output path, so run it from ROOT with a copy of the manifest
  # whose output_path points into the scratch directory.
  sed -E "s|^([[:space:]]*output_path:).*|\1 ${work}/out|" "${MANIFEST}" >"${work}/builder-config.yaml"
  if ! grep -q "output_path: ${work}/out" "${work}/builder-config.yaml"; then
    echo "generate.sh: builder-config.yaml has no dist.output_path line to override" >&2
    return 1
  fi
  (cd "${ROOT}" && tool builder --config "${work}/builder-config.yaml" \
    --skip-get-modules --skip-compilation >"${work}/builder.log" 2>&1) || {
    cat "${work}/builder.log" >&2
    return 1
  }

  mkdir -p "${dest}"
  local f
  for f in "${GENERATED_MAIN_FILES[@]}"; do
    gofmt "${work}/out/${f}" >"${dest}/${f}"
  done
}

# generate_mdatagen DIR: runs mdatagen for every metadata.yaml below DIR, which
# is ROOT or a copy of it.
generate_mdatagen() {
  local dir="$1" m
  while IFS= read -r m; do
    [[ -n "${m}" ]] || continue
    (cd "${dir}/$(dirname "${m}")" && tool mdatagen "${dir}/${m}")
  done < <(metadata_files)
}

check() {
  local work stale=0 m d
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN

  generate_main "${work}/main"
  local f
  for f in "${GENERATED_MAIN_FILES[@]}"; do
    if ! diff -u "${ROOT}/${MAIN_DIR}/${f}" "${work}/main/${f}"; then
      stale=1
    fi
  done

  # mdatagen writes next to metadata.yaml (internal/metadata, generated tests,
  # documentation.md, the README status table), so regenerate copies of the
  # component directories and compare them with the originals. mdatagen
  # derives import paths from the enclosing go.mod, so the copy gets ours.
  mkdir -p "${work}/mdatagen"
  cp "${ROOT}/go.mod" "${ROOT}/go.sum" "${work}/mdatagen/"
  while IFS= read -r m; do
    [[ -n "${m}" ]] || continue
    d="$(dirname "${m}")"
    mkdir -p "${work}/mdatagen/${d}"
    cp -R "${ROOT}/${d}/." "${work}/mdatagen/${d}/"
    (cd "${work}/mdatagen/${d}" && tool mdatagen "${work}/mdatagen/${m}")
    if ! diff -ru "${ROOT}/${d}" "${work}/mdatagen/${d}"; then
      stale=1
    fi
  done < <(metadata_files)

  if [[ "${stale}" -ne 0 ]]; then
    echo "generated code is stale: run 'make generate' and commit the result" >&2
    return 1
  fi
  echo "generated code is up to date"
}

case "${1:-all}" in
  main) generate_main "${2:-${ROOT}/${MAIN_DIR}}" ;;
  mdatagen) generate_mdatagen "${ROOT}" ;;
  all)
    generate_main "${ROOT}/${MAIN_DIR}"
    generate_mdatagen "${ROOT}"
    ;;
  check) check ;;
  *)
    echo "usage: $0 [main [DEST] | mdatagen | all | check]" >&2
    exit 2
    ;;
esac
