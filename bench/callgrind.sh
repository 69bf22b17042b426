#!/usr/bin/env bash
# Instructions per request, by callgrind: repeatable for the same binary and
# data whatever else the machine is doing, unlike wall-clock runs on a shared
# VM (docs/PERFORMANCE.md).
#
#   bench/callgrind.sh SCENARIO [WORKDIR] [BINARY]
#
# SCENARIO is one of callbase-bench's (page1-largest, filtered, deep-page,
# get-by-id); WORKDIR is a finished bench run's (default target/bench: the
# database, and the scenario's wrk script for its token and first path);
# BINARY defaults to target/release/callbase. The server runs under callgrind
# with one tokio worker; one keep-alive connection sends 50 requests, the
# counters are zeroed, 200 more are sent and counted. Prints the instructions
# per request and leaves the profile (callgrind_annotate FILE) in WORKDIR.
set -euo pipefail
scenario=${1:?usage: bench/callgrind.sh SCENARIO [WORKDIR] [BINARY]}
workdir=${2:-target/bench}
binary=${3:-target/release/callbase}
script="$workdir/$scenario.lua"
for tool in valgrind callgrind_control curl; do
  command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install valgrind curl)" >&2; exit 1; }
done
[[ -f $script && -f $workdir/bench.db ]] || { echo "no finished bench run in $workdir" >&2; exit 1; }
# No pipelines: a reader that stops early would fail them (pipefail).
token=$(grep -m1 -o 'cb_[A-Za-z0-9_-]*' "$script")
path=$(awk '/local paths = [{]/ {f = 1; next}
  f && match($0, /"\/[^"]*"/) {print substr($0, RSTART + 1, RLENGTH - 2); exit}' "$script")
port=$((20000 + RANDOM % 20000))
out="$workdir/callgrind-$scenario.out"
rm -f "$out" "$out".*

TOKIO_WORKER_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
  "$binary" --database-url "sqlite://$workdir/bench.db" serve --listen "127.0.0.1:$port" \
  --rate-limit 0 --no-webhook-worker >"$workdir/callgrind-server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
ready=
for _ in $(seq 1 240); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/health"; then ready=1; break; fi
  sleep 0.5
done
[[ -n $ready ]] || { echo "the server did not answer in 2 minutes; see $workdir/callgrind-server.log" >&2; exit 1; }

# curl reuses one connection for every URL of one invocation.
requests() {
  local config
  config=$(mktemp)
  for _ in $(seq 1 "$1"); do
    printf 'url = "http://127.0.0.1:%s%s"\noutput = /dev/null\n' "$port" "$path" >>"$config"
  done
  curl -s -H "Authorization: Bearer $token" -K "$config"
  rm -f "$config"
}
requests 50
callgrind_control -z "$server" >/dev/null 2>&1
requests 200
callgrind_control -d "$server" >/dev/null 2>&1
sleep 1
kill -TERM "$server"
wait "$server" 2>/dev/null || true
trap - EXIT

total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out.1")
echo "$scenario ($path): $((total / 200)) instructions per request; profile: $out.1"
