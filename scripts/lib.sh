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

# True when a Secret Service answers on the session bus and its default keyring exists and is
# unlocked, so an app can store a secret without a prompt. A bare X session, a kiosk session or
# Xvfb has none (or only a keyring that would need an unlock prompt nobody can answer).
secret_service_ready() {
  command -v dbus-send >/dev/null || return 1
  local alias path
  alias=$(dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
    org.freedesktop.Secret.Service.ReadAlias string:default 2>/dev/null) || return 1
  path=$(printf '%s\n' "$alias" | sed -n 's/.*object path "\(.*\)".*/\1/p')
  [ -n "$path" ] && [ "$path" != / ] || return 1
  dbus-send --session --print-reply --dest=org.freedesktop.secrets "$path" \
    org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked \
    2>/dev/null | grep -q "boolean false"
}
