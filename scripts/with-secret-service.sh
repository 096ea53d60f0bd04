#!/usr/bin/env bash
# Runs a command inside a private D-Bus session whose Secret Service is a fresh, unlocked
# gnome-keyring, so keychain tests use a real Secret Service and never touch the user's own.
#   scripts/with-secret-service.sh cargo test --workspace
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
for tool in dbus-run-session gnome-keyring-daemon dbus-send; do
  command -v "$tool" >/dev/null || {
    echo "$tool is missing: run scripts/test.sh once (it installs gnome-keyring and dbus)" >&2
    exit 2
  }
done

# Inside the private bus (see the end): unlock a fresh keyring, then run the command.
if [ "${1:-}" = "--inside-bus" ]; then
  shift
  # A throwaway password: the keyring lives and dies with this session.
  pw=$(head -c 24 /dev/urandom | base64)
  printf %s "$pw" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  # The daemon answers before it owns its bus name; tests started earlier fail now and then.
  for _ in $(seq 200); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
         org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
         | grep -q "boolean true"; then
      exec "$@"
    fi
    sleep 0.05
  done
  echo "gnome-keyring did not take the bus name org.freedesktop.secrets within 10 s" >&2
  exit 1
fi

tmp=$(mktemp -d)
cleanup() {
  # GTK may have D-Bus-activated the document portal, which mounts a FUSE folder in the
  # runtime dir; unmount it so the folder can go. Cleanup never changes the exit status.
  if mountpoint -q "$tmp/runtime/doc" 2>/dev/null; then
    fusermount -uz "$tmp/runtime/doc" 2>/dev/null || umount -l "$tmp/runtime/doc" 2>/dev/null || true
  fi
  rm -rf "$tmp" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -m 700 "$tmp/data" "$tmp/runtime"
# HOME stays as it is (cargo and rustup live there); only the keyring's dirs are private.
export XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/runtime"

# A bus of our own whose only activatable services are the accessibility bus and dconf. With the
# system's usual service list, WebKit starts the desktop portals, and the portal's Secret
# backend D-Bus-activates a second gnome-keyring-daemon that can take over from the unlocked
# one mid-run (seen as "recipient disconnected" then "prompt dismissed" in keychain tests).
mkdir "$tmp/services"
for svc in org.a11y.Bus ca.desrt.dconf; do
  if [ -f "/usr/share/dbus-1/services/$svc.service" ]; then
    ln -s "/usr/share/dbus-1/services/$svc.service" "$tmp/services/"
  fi
done
cat > "$tmp/session.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=$tmp</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$tmp/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF

# The command's exit status is this script's (the cleanup above leaves it as it is).
dbus-run-session --config-file="$tmp/session.conf" -- bash "$0" --inside-bus "$@"
