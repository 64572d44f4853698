#!/usr/bin/env bash
# Runs every benchmark of the repository and rewrites docs/benchmarks.md with the results and the machine.
# Builds benchmarks/SessionLocking.Benchmarks in Release and runs the scenarios; each scenario that uses Redis
# starts its own redis-server on a free loopback port (no persistence) and stops it. Installs redis-server from Debian's
# packages when it is missing. Usage: ./scripts/benchmark.sh [--seconds N]   (N: measured seconds per
# load set-up, default 10)
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

seconds=10
if [ "${1:-}" = "--seconds" ] && [ -n "${2:-}" ]; then seconds=$2; fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "Installing redis-server ..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null \
    || { echo "could not install redis-server"; exit 1; }
fi

echo "== build (Release)"
if ! dotnet build benchmarks/SessionLocking.Benchmarks/SessionLocking.Benchmarks.csproj -c Release -nologo -v q; then
  echo "build failed"; exit 1
fi
bench=(dotnet benchmarks/SessionLocking.Benchmarks/bin/Release/net10.0/SessionLocking.Benchmarks.dll)

results=benchmarks/results
rm -rf "$results"; mkdir -p "$results"

# Each scenario that uses Redis starts a redis-server of its own (--redis start: free loopback port, no
# persistence, stopped when the scenario ends; the launcher of tests/SessionLocking.TestUtilities).
echo "== redis-server $(redis-server --version | sed -nE 's/.*v=([0-9.]+).*/\1/p'), one per scenario"

failed=0
run() {
  echo "== $1"
  if ! "${bench[@]}" "$@" --results "$results" --redis start --seconds "$seconds"; then
    echo "!! $1 failed"; failed=$((failed + 1))
  fi
}
# The waiting-cost scenario measures heap and threads, so it runs first, in a fresh process.
run waiting
run hot
run many
run roundtrips
run micro

elapsed=$(( $(date +%s) - started ))
"${bench[@]}" report --results "$results" --out docs/benchmarks.md \
  --command "./scripts/benchmark.sh" \
  --sdk "$(dotnet --version)" \
  --redis-version "$(redis-server --version | sed -nE 's/.*v=([0-9.]+).*/redis-server \1/p'), loopback, no persistence" \
  --load-start "$load_start" --load-end "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")" \
  --commit "$(git rev-parse --short HEAD 2>/dev/null || echo "?")$(git diff --quiet HEAD -- src benchmarks 2>/dev/null || echo " (with local changes)")" \
  --elapsed "$((elapsed / 60)) min $((elapsed % 60)) s"
echo "== done in $((elapsed / 60)) min $((elapsed % 60)) s; $failed scenario(s) failed"
[ "$failed" -eq 0 ]
