#!/usr/bin/env bash
# The OpenAPI document (docs/openapi.json) against a real server on loopback, with schemathesis:
# valid and invalid requests generated from the document to every operation of both listeners,
# checked for no 5xx, a response body that matches its schema, a documented status, content
# type and headers. Called by scripts/test.sh; bounded (SOFTTOKEN_API_CHECK_EXAMPLES requests
# per operation and mode, default 10, and a hard timeout per listener); then generates the web
# tier's example client from the document (openapi-python-client) and runs tests/api/web_tier.py
# with it against the same server; stops the server itself.
#
#   bash scripts/api-check.sh                                    the test command's run
#   SOFTTOKEN_API_CHECK_EXAMPLES=500 bash scripts/api-check.sh   the longer run (docs/INTEGRATION.md)
#
# schemathesis and openapi-python-client are PyPI packages; they are installed, pinned, into a virtualenv under target/ the
# first time, as scripts/check-workflows.sh does for its tools.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

say() { printf '==> api-check: %s\n' "$*"; }

SCHEMATHESIS_VERSION=4.32.5
CLIENT_GENERATOR_VERSION=0.29.1
EXAMPLES=${SOFTTOKEN_API_CHECK_EXAMPLES:-10}
# A listener's run ends here whatever the examples say (an interrupted run fails).
LIMIT_SECS=${SOFTTOKEN_API_CHECK_LIMIT_SECS:-150}

venv=target/api-check-venv
if [ "$("$venv/bin/python" -c 'from importlib.metadata import version as v
print(v("schemathesis"), v("openapi-python-client"))' 2>/dev/null)" != "$SCHEMATHESIS_VERSION $CLIENT_GENERATOR_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION and openapi-python-client $CLIENT_GENERATOR_VERSION into $venv"
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3 python3-venv
  rm -rf "$venv"
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "openapi-python-client==$CLIENT_GENERATOR_VERSION"
fi

cargo build -p softtoken-server --locked --quiet
bin=target/debug/softtoken-server
work=$(mktemp -d "${TMPDIR:-/tmp}/softtoken-api-check.XXXXXX")
server_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
stop() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT

# A database with one registration of each kind a request can meet: fresh (issued), so the
# generated requests reach the handlers' own answers, not only the refusals of unknown IDs.
db=(--database "$work/server.db" --master-key-file "$work/master.key" --outbox-dir "$work/outbox")
"$bin" gen-key > "$work/master.key"
chmod 600 "$work/master.key"
"$bin" "${db[@]}" migrate
token=$("$bin" "${db[@]}" credential add --name api-check --scope admin)
echo 4821 | "$bin" "${db[@]}" issue --service-id 10112231 --user-id 000000000001 \
  --mail api-check@example.jp > /dev/null

# Free ports on loopback, chosen by the kernel.
read -r public_port admin_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
"$bin" "${db[@]}" serve --bind "127.0.0.1:$public_port" --admin-bind "127.0.0.1:$admin_port" \
  > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$admin_port/livez" > /dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$admin_port/livez" > /dev/null

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
run() {
  timeout --signal=INT "$LIMIT_SECS" "$venv/bin/schemathesis" run "$@" \
    --checks "$checks" --mode all --phases coverage,fuzzing --max-examples "$EXAMPLES" --seed 32 \
    --request-timeout 35 --no-color
}
status=0
# The example client first: schemathesis's wrong and missing bearers throttle this address
# afterwards (as they should), and the client checks that a wrong bearer gets 401.
say "the web tier's example client, generated from docs/openapi.json, against the same server"
"$venv/bin/openapi-python-client" generate --path docs/openapi.json --meta none \
  --output-path "$work/softtoken_server_client" > "$work/generate.log" 2>&1 ||
  { cat "$work/generate.log"; status=1; }
PYTHONPATH="$work" "$venv/bin/python" tests/api/web_tier.py "http://127.0.0.1:$admin_port" "$token" ||
  status=1
say "the public listener, its own document (/openapi.json), $EXAMPLES examples an operation"
run "http://127.0.0.1:$public_port/openapi.json" || status=1
say "the admin listener, the admin operations of docs/openapi.json, with an admin credential"
run docs/openapi.json --url "http://127.0.0.1:$admin_port" \
  --include-path-regex '^/(v1/admin/|metrics|healthz|livez)' \
  --header "Authorization: Bearer $token" || status=1
if grep -q 'ERROR' "$work/server.log"; then
  say "the server logged errors:"; grep 'ERROR' "$work/server.log" | head -20; status=1
fi
exit "$status"
