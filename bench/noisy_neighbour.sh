#!/usr/bin/env bash
# One tenant cannot stall another: a quiet tenant reads one user (wrk -c4) while a neighbour on
# the same node creates users as fast as it can (PBKDF2 at 600,000 iterations, wrk -c16). Rounds
# alternate idle (quiet alone) and loaded (quiet + neighbour); prints each round's quiet p50/p99,
# the neighbour's creates/s and refusals, and the median loaded/idle p99 ratio. The target is a
# ratio within 2. The server uses every core; wrk shares them (this is a 2-core machine).
#
#   bench/noisy_neighbour.sh                 # ROUNDS=3 DURATION=10
#   ROUNDS=1 DURATION=5 bench/noisy_neighbour.sh
#   SERVE_ARGS="--password-iterations 1000" bench/noisy_neighbour.sh   # writes without the hash
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
# MERIDIAN_BIN measures another build (an older commit, say) with the same script.
if [ -z "${MERIDIAN_BIN:-}" ]; then ./scripts/build.sh >/dev/null; fi
BIN=${MERIDIAN_BIN:-build/src/server/meridian}
WORK=$(mktemp -d /tmp/meridian-noisy-XXXXXX)
SERVER_PID=""
NOISY_PID=""
cleanup() {
  [ -n "$NOISY_PID" ] && kill "$NOISY_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'): d=d[k]
print(d)" "$1" "$2"; }

# shellcheck disable=SC2086
"$BIN" serve --data-dir "$WORK/data" --port 0 ${SERVE_ARGS:-} >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do [ -s "$WORK/data/server.json" ] && break; sleep 0.1; done
URL="https://127.0.0.1:$(json "$WORK/data/server.json" port)"
"$BIN" tenant create --data-dir "$WORK/data" --name Neighbour --country DE >"$WORK/noisy.json"
cp "$WORK/data/first-tenant.json" "$WORK/quiet.json"

token() {  # tenant document
  curl -sk "$(json "$1" tokenEndpoint)" -d grant_type=client_credentials \
    -d client_id="$(json "$1" bootstrapApplication.appId)" \
    --data-urlencode client_secret="$(json "$1" bootstrapApplication.clientSecret)" \
    --data-urlencode scope="$(json "$1" graphScope)" |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])"
}
QUIET_TOKEN=$(token "$WORK/quiet.json")
NOISY_TOKEN=$(token "$WORK/noisy.json")
cat bench/wrk/get_user.lua bench/wrk/report.lua >"$WORK/get.lua"
cat bench/wrk/create_user.lua bench/wrk/report.lua >"$WORK/create.lua"

quiet() {  # prints the RESULT line of the quiet tenant's reads
  TOKEN=$QUIET_TOKEN USER_ID=$(json "$WORK/quiet.json" administrator.id) \
    wrk -t1 -c4 -d"${DURATION}s" --timeout 30s -s "$WORK/get.lua" "$URL" | grep '^RESULT'
}
field() { echo "$1" | sed -E "s/.*$2=([0-9.]+).*/\1/"; }

TOKEN=$QUIET_TOKEN USER_ID=$(json "$WORK/quiet.json" administrator.id) \
  wrk -t1 -c4 -d2s -s "$WORK/get.lua" "$URL" >/dev/null  # warm-up
echo "| round | quiet idle p50 / p99 ms | quiet loaded p50 / p99 ms | loaded/idle p99 | neighbour creates/s, non-2xx |"
echo "| --- | --- | --- | --- | --- |"
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  idle=$(quiet)
  TOKEN=$NOISY_TOKEN DOMAIN=$(json "$WORK/noisy.json" initialDomain) \
    wrk -t1 -c16 -d"$((DURATION + 4))s" --timeout 60s -s "$WORK/create.lua" "$URL" -- "n$round$RANDOM" \
    >"$WORK/noisy.out" 2>&1 &
  NOISY_PID=$!
  sleep 2  # let the neighbour saturate its share first
  loaded=$(quiet)
  wait "$NOISY_PID" || true
  NOISY_PID=""
  sleep 3  # the neighbour's queued hashes drain before the next idle measurement
  noisy=$(grep '^RESULT' "$WORK/noisy.out" || echo "RESULT rps=0 non2xx=0")
  ratio=$(/usr/bin/python3 -c "print(f'{$(field "$loaded" p99_ms) / $(field "$idle" p99_ms):.2f}')")
  ratios+=("$ratio")
  printf "| %s | %s / %s | %s / %s | %s | %s, %s |\n" "$round" "$(field "$idle" p50_ms)" \
    "$(field "$idle" p99_ms)" "$(field "$loaded" p50_ms)" "$(field "$loaded" p99_ms)" "$ratio" \
    "$(field "$noisy" rps)" "$(field "$noisy" non2xx)"
done
echo
echo "median loaded/idle p99: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') (target: within 2)"
