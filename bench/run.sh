#!/usr/bin/env bash
# Meridian load benchmark: one server (pinned to CPU 0: one I/O thread and its request workers)
# driven by wrk (pinned to CPU 1) over TLS with keep-alive on loopback. Prints requests/s and
# p50/p99 latency for GET one user, list users with a filter, create user and client-credentials
# token issuance on a tenant of USERS users; then the same reads with TENANTS tenants on the
# node; then the machine's `openssl speed rsa2048` sign rate for comparison.
#
#   bench/run.sh                      # USERS=100000 TENANTS=10000 DURATION=10 CONNECTIONS=32
#   USERS=10000 TENANTS=1000 DURATION=5 bench/run.sh   # a quick run
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-100000}
TENANTS=${TENANTS:-10000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
./scripts/build.sh >/dev/null
command -v bc >/dev/null || { echo "bench/run.sh needs bc (apt-get install bc)"; exit 1; }
BIN=build/src/server/meridian
POP=build/bench/meridian_bench_populate
WORK=$(mktemp -d /tmp/meridian-bench-XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

field() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

start_server() {  # data dir [extra serve arguments]
  local dir=$1
  shift
  rm -f "$dir/server.json"
  taskset -c 0 "$BIN" serve --data-dir "$dir" --port 0 --threads 1 "$@" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do [ -s "$dir/server.json" ] && break; sleep 0.1; done
  PORT=$(field "$dir/server.json" port)
  URL="https://127.0.0.1:$PORT"
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

token() {  # populate json
  curl -sk "$URL/$(field "$1" tenantId)/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id="$(field "$1" appId)" --data-urlencode client_secret="$(field "$1" clientSecret)" \
    --data-urlencode scope="https://graph.meridian.test/.default" |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])"
}

run_wrk() {  # label script [connections]
  local conns=${3:-$CONNECTIONS}
  cat "bench/wrk/$2" bench/wrk/report.lua >"$WORK/script.lua"
  # A short warm-up, then the measured run.
  taskset -c 1 wrk -t1 -c"$conns" -d2s --timeout 30s -s "$WORK/script.lua" "$URL" -- "w$RANDOM$RANDOM" >/dev/null 2>&1 || true
  local line
  line=$(taskset -c 1 wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 30s -s "$WORK/script.lua" "$URL" -- "m$RANDOM$RANDOM" | grep '^RESULT')
  printf "| %-34s | %s |\n" "$1" "$(echo "$line" | sed 's/^RESULT //')"
}

echo "# populating: 1 tenant with $USERS users; $TENANTS tenants with $USERS users in one"
$POP --data-dir "$WORK/one" --tenants 1 --users "$USERS" >"$WORK/one.json"
$POP --data-dir "$WORK/many" --tenants "$TENANTS" --users "$USERS" >"$WORK/many.json"

echo
echo "server: 1 I/O thread and its request workers on CPU 0; wrk -t1 -c$CONNECTIONS -d${DURATION}s on CPU 1; TLS, keep-alive"
echo
echo "| operation | result |"
echo "| --- | --- |"
start_server "$WORK/one"
export TOKEN USER_ID DOMAIN TENANT CLIENT_ID CLIENT_SECRET SCOPE
TOKEN=$(token "$WORK/one.json")
USER_ID=$(field "$WORK/one.json" sampleUserId)
DOMAIN=$(field "$WORK/one.json" domain)
TENANT=$(field "$WORK/one.json" tenantId)
CLIENT_ID=$(field "$WORK/one.json" appId)
CLIENT_SECRET=$(field "$WORK/one.json" clientSecret)
SCOPE="https://graph.meridian.test/.default"
run_wrk "GET one user (1 tenant)" get_user.lua
run_wrk "list users, filter (1 tenant)" list_users.lua
# Token issuance is bounded by the RSA signature, and this machine's signing rate drifts, so the
# ratio is measured in rounds: openssl on the server's core, then the token endpoint, alternately.
for round in 1 2 3; do
  SIGN=$(taskset -c 0 openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}')
  line=$(run_wrk "token, client credentials (round $round)" token.lua)
  echo "$line"
  rps=$(echo "$line" | sed -E 's/.*rps=([0-9]+).*/\1/')
  printf "| %-34s | openssl sign/s=%s token/sign=%.2f |\n" "  RS256 sign rate, same core" "$SIGN" \
    "$(echo "$rps / $SIGN" | bc -l)"
done
run_wrk "create user (PBKDF2 600k, 4 conns)" create_user.lua 4
stop_server

# The same writes with a cheap password hash show the store's own write path (fsync per op).
start_server "$WORK/one" --password-iterations 1000
TOKEN=$(token "$WORK/one.json")
run_wrk "create user (PBKDF2 1k: store path)" create_user.lua
stop_server

start_server "$WORK/many"
TOKEN=$(token "$WORK/many.json")
USER_ID=$(field "$WORK/many.json" sampleUserId)
run_wrk "GET one user ($TENANTS tenants)" get_user.lua
run_wrk "list users, filter ($TENANTS tenants)" list_users.lua
stop_server

echo
echo "openssl speed rsa2048 (one core):"
taskset -c 0 openssl speed -seconds 5 rsa2048 2>/dev/null | grep -E '^rsa 2048|sign/s'
