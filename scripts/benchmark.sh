#!/usr/bin/env bash
# Runs every benchmark of the repository and rewrites docs/benchmarks.md with the results and the machine.
# Builds benchmarks/SessionLocking.Benchmarks in Release and runs the scenarios; each scenario that uses Redis
# starts its own redis-server on a free loopback port (no persistence) and stops it. Installs redis-server from Debian's
# packages when it is missing. Usage: ./scripts/benchmark.sh [--seconds N] [--only NAME]
#   N: measured seconds per load set-up, default 10 (scenario 2 splits them into 10 rounds of at least 1 s each;
#   --seconds 30 gives rounds of 3 s).
#   NAME: one scenario (waiting, hot, many, roundtrips, micro, pubsub, durable): runs only it and replaces only its
#   section and its targets in docs/benchmarks.md. The pubsub scenario starts its own Redis Clusters (3 and 6 masters)
#   and runs on a build against the newest StackExchange.Redis 2.x (the floor, 2.7.27, has no sharded channels).
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

seconds=10
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    *) echo "usage: ./scripts/benchmark.sh [--seconds N] [--only waiting|hot|many|roundtrips|micro|pubsub]"; exit 2 ;;
  esac
done
wants() { [ -z "$only" ] || [ "$only" = "$1" ]; }

if ! command -v redis-server >/dev/null 2>&1; then
  echo "Installing redis-server ..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null \
    || { echo "could not install redis-server"; exit 1; }
fi

# The hot- and many-sessions scenarios run their Redis set-ups on Garnet too (reported beside Redis): the dotnet tool
# garnet-server, installed where scripts/test.sh puts it.
garnet_dir=artifacts/tools/garnet
if { wants many || wants hot; } && [ ! -x "$garnet_dir/garnet-server" ]; then
  echo "Installing garnet-server 2.2.12 into $garnet_dir ..."
  dotnet tool install --tool-path "$garnet_dir" garnet-server --version 2.2.12 >/dev/null \
    || { echo "could not install garnet-server"; exit 1; }
fi
export GARNET_SERVER="$PWD/$garnet_dir/garnet-server"

echo "== build (Release)"
if ! dotnet build benchmarks/SessionLocking.Benchmarks/SessionLocking.Benchmarks.csproj -c Release -nologo -v q; then
  echo "build failed"; exit 1
fi
bench=(dotnet benchmarks/SessionLocking.Benchmarks/bin/Release/net10.0/SessionLocking.Benchmarks.dll)
if wants pubsub; then
  newest=$(sed -nE 's/.*<StackExchangeRedisNewest>([^<]+)<.*/\1/p' Directory.Build.props)
  echo "== build (Release) against StackExchange.Redis $newest, for the pubsub scenario"
  if ! dotnet build benchmarks/SessionLocking.Benchmarks/SessionLocking.Benchmarks.csproj -c Release -nologo -v q \
       -p:StackExchangeRedisVersion="$newest" --artifacts-path artifacts/bench-se-newest; then
    echo "build failed"; exit 1
  fi
  bench_newest=(dotnet artifacts/bench-se-newest/bin/SessionLocking.Benchmarks/release/SessionLocking.Benchmarks.dll)
fi

results=benchmarks/results
if [ -z "$only" ]; then rm -rf "$results"; fi
mkdir -p "$results"

# Each scenario that uses Redis starts a redis-server of its own (--redis start: free loopback port, no
# persistence, stopped when the scenario ends; the launcher of tests/SessionLocking.TestUtilities).
echo "== redis-server $(redis-server --version | sed -nE 's/.*v=([0-9.]+).*/\1/p'), one per scenario"

failed=0
run() {
  wants "$1" || return 0
  echo "== $1"
  rm -f "$results/"*"-$1"*.md "$results/"*"-$1"*.json
  local program=("${bench[@]}")
  [ "$1" = "pubsub" ] && program=("${bench_newest[@]}")
  if ! "${program[@]}" "$@" --results "$results" --redis start --seconds "$seconds"; then
    echo "!! $1 failed"; failed=$((failed + 1))
  fi
}
# The waiting-cost scenario measures heap and threads, so it runs first, in a fresh process.
run waiting
run hot --garnet start
run many --garnet start
run roundtrips
run micro
run pubsub
run durable

elapsed=$(( $(date +%s) - started ))
only_args=(); command="./scripts/benchmark.sh"
if [ -n "$only" ]; then only_args=(--only "$only"); command="./scripts/benchmark.sh --only $only"; fi
"${bench[@]}" report --results "$results" --out docs/benchmarks.md "${only_args[@]}" \
  --command "$command" \
  --sdk "$(dotnet --version)" \
  --redis-version "$(redis-server --version | sed -nE 's/.*v=([0-9.]+).*/redis-server \1/p'), loopback, no persistence" \
  --garnet-version "garnet-server $("$GARNET_SERVER" --version 2>/dev/null | sed -nE 's/.*GarnetServer ([0-9.]+).*/\1/p' | head -1) (scenarios 1 and 2), loopback, Lua on, no AOF" \
  --load-start "$load_start" --load-end "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")" \
  --commit "$(git rev-parse --short HEAD 2>/dev/null || echo "?")$(git diff --quiet HEAD -- src benchmarks 2>/dev/null || echo " (with local changes)")" \
  --elapsed "$((elapsed / 60)) min $((elapsed % 60)) s"
echo "== done in $((elapsed / 60)) min $((elapsed % 60)) s; $failed scenario(s) failed"
[ "$failed" -eq 0 ]
