#!/usr/bin/env bash
# The supply-chain policy (deny.toml, docs/SUPPLY-CHAIN.md), checked by cargo-deny.
#
#   bash scripts/supply-chain.sh            licences, bans, sources: no advisory database, in the
#                                           test command (crates Cargo has not downloaded yet are)
#   bash scripts/supply-chain.sh advisories RustSec's advisories: fetches the database (pipeline)
#
# Installs the pinned cargo-deny when it is missing (cargo install, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $DENY_VERSION" ]; then
  echo "==> installing cargo-deny $DENY_VERSION (cargo install, a few minutes)"
  cargo install --locked cargo-deny --version "=$DENY_VERSION"
fi

case "${1:-offline}" in
  offline) cargo deny check licenses bans sources ;;
  advisories) cargo deny check advisories ;;
  *) echo "usage: $0 [offline|advisories]" >&2; exit 2 ;;
esac
