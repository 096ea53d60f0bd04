# shellcheck shell=bash
# What the scripts share; sourced by them, never run:
#   source "$(dirname "$0")/lib.sh"

# Runs a command as root: directly when we are root, else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages among "$@" that are not installed yet, and nothing else: a
# second run only says they are present. The package lists are refreshed first, as a fresh
# machine's may be empty or stale.
apt_install() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    printf '==> Debian packages present: %s\n' "$*"
    return
  fi
  printf '==> installing Debian packages: %s\n' "${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
