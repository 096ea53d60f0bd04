#!/usr/bin/env bash
# Refuses to build a release that would ship the wrong thing (docs/RELEASE.md, Cutting a release):
# the tag must be "v" + the version of Cargo.toml's [workspace.package] (the one place a version
# is written; every artefact takes it), and the customer build's server must be the bank's, over HTTPS.
#
#   GITHUB_REF_NAME=v0.1.0 SOFTTOKEN_SERVER_URL=https://otp.example-bank.jp check-release.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(python3 .github/scripts/stage-tauri-config.py --version)
if [ "${GITHUB_REF_NAME:-}" != "v$version" ]; then
  echo "the tag is '${GITHUB_REF_NAME:-}', Cargo.toml says version $version: tag v$version" >&2
  exit 1
fi
case "${SOFTTOKEN_SERVER_URL:-}" in
  https://?*) ;;
  *)
    echo "SOFTTOKEN_SERVER_URL (repository variable) must be the bank's https:// URL, is '${SOFTTOKEN_SERVER_URL:-}'" >&2
    exit 1
    ;;
esac
echo "release v$version for $SOFTTOKEN_SERVER_URL"
