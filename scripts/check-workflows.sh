#!/usr/bin/env bash
# Checks the release pipeline (.github/workflows) without running it: the workflows cannot run
# on this machine (no GitHub runner, no Android SDK, no Xcode, no Windows), so this is what keeps
# them honest between releases.
#
#   check-jsonschema --builtin-schema vendor.github-workflows   structure: every key, every type
#                    (and vendor.dependabot for .github/dependabot.yml)
#   zizmor --offline                                           security: injection, permissions,
#                                                              credentials, unpinned actions ...
#   bash -n, shellcheck                                        the scripts the workflows call
#   check-jsonschema --schemafile (the Tauri CLI's schema)    tauri.conf.json, as the CLI reads it
#   .github/scripts/test_check_artefacts.py                   publish refuses QA/debug phone builds
#   scripts/rehearse-native-builds.py                          every command a phone build's
#                                                              Gradle task or Xcode phase runs is
#                                                              provided by its job, pinned
#   scripts/check-native-projects.py (tree-sitter, the CLI)    the Gradle files parse; the pinned
#                                                              CLI reads the staged config and the
#                                                              Android project offline
#
# The tools are PyPI packages and work offline. They are installed, pinned, into a virtualenv
# under target/ the first time (Debian's python3-venv is installed if venv is missing); a second
# run installs nothing. Fails on any finding. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> check-workflows: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

CHECK_JSONSCHEMA_VERSION=0.39.0
ZIZMOR_VERSION=1.32.0
# The parsers of the Gradle files (Kotlin script, Groovy): tree-sitter and its two grammars.
TREE_SITTER_VERSION=0.26.1
TREE_SITTER_KOTLIN_VERSION=1.1.0
TREE_SITTER_GROOVY_VERSION=0.1.2

workflows=(.github/workflows/*.yml)
if [ ! -e "${workflows[0]}" ]; then
  echo "no workflows in .github/workflows" >&2
  exit 1
fi

venv=target/check-workflows-venv
tools_ok() {
  [ -x "$venv/bin/zizmor" ] && [ -x "$venv/bin/check-jsonschema" ] &&
    [ "$("$venv/bin/zizmor" --version 2>/dev/null)" = "zizmor $ZIZMOR_VERSION" ] &&
    "$venv/bin/check-jsonschema" --version 2>/dev/null | grep -qF "$CHECK_JSONSCHEMA_VERSION" &&
    [ "$("$venv/bin/python" -c 'from importlib.metadata import version as v
print(v("tree-sitter"), v("tree-sitter-kotlin"), v("tree-sitter-groovy"))' 2>/dev/null)" = \
      "$TREE_SITTER_VERSION $TREE_SITTER_KOTLIN_VERSION $TREE_SITTER_GROOVY_VERSION" ]
}
if ! tools_ok; then
  say "installing check-jsonschema $CHECK_JSONSCHEMA_VERSION, zizmor $ZIZMOR_VERSION and tree-sitter into $venv"
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      python3 python3-venv
  fi
  rm -rf "$venv"
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "zizmor==$ZIZMOR_VERSION" \
    "tree-sitter==$TREE_SITTER_VERSION" "tree-sitter-kotlin==$TREE_SITTER_KOTLIN_VERSION" \
    "tree-sitter-groovy==$TREE_SITTER_GROOVY_VERSION"
fi
if ! command -v shellcheck >/dev/null || ! python3 -c 'import yaml' 2>/dev/null; then
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    shellcheck python3-yaml
fi

say "structure (check-jsonschema, GitHub's workflow schema): ${workflows[*]}"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
if [ -f .github/dependabot.yml ]; then
  "$venv/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml
fi

say "security (zizmor --offline, auditor persona: every finding fails)"
# --persona=auditor reports everything zizmor knows, including what it rates as pedantic;
# .github/zizmor.yml is its configuration (the only ignores, each with the reason).
"$venv/bin/zizmor" --offline --persona=auditor --no-progress --strict-collection \
  --config .github/zizmor.yml .github

scripts=(.github/scripts/*.sh scripts/check-workflows.sh)
say "shell: bash -n and shellcheck: ${scripts[*]}"
for script in "${scripts[@]}"; do
  bash -n "$script"
done
shellcheck "${scripts[@]}"

say "tauri.conf.json (root and the staged copy) against the Tauri CLI's own config schema"
# The schema ships inside the pinned CLI; scripts/tauri.sh installs it and writes the staged copy.
bash scripts/tauri.sh --version >/dev/null
# nonunicode: the schema's patterns are written for Rust's regex, which allows "\\:" in a class.
"$venv/bin/check-jsonschema" --regex-variant nonunicode \
  --schemafile "${CARGO_TARGET_DIR:-target}/tauri-cli/node_modules/@tauri-apps/cli/config.schema.json" \
  tauri.conf.json src-tauri/tauri.conf.json

say "release artefacts: check-artefacts.py on fabricated APKs, AABs and IPAs (unittest)"
PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover --start-directory .github/scripts --pattern 'test_*.py'

say "phone builds: the rehearsal of every job's nested CLI calls (docs/RELEASE.md, The rehearsal)"
python3 scripts/rehearse-native-builds.py

say "phone builds: the Gradle files parse; the pinned CLI reads the config and Android project"
"$venv/bin/python" scripts/check-native-projects.py \
  --cli "${CARGO_TARGET_DIR:-target}/tauri-cli/node_modules/@tauri-apps/cli/tauri.js"

scripts_py=(.github/scripts/*.py scripts/*.py)
if [ -e "${scripts_py[0]}" ]; then
  say "python: compiles: ${scripts_py[*]}"
  for script in "${scripts_py[@]}"; do
    python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$script"
  done
fi

say "all checks passed"
