#!/usr/bin/env bash
# Runs every benchmark of the repository and rewrites docs/benchmarks.md with the results and the machine.
# Builds benchmarks/SessionLocking.Benchmarks in Release, starts its own redis-server on a free loopback
# port (no persistence), runs the scenarios, stops that redis-server. Installs redis-server from Debian's
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

# A free loopback port: one that nothing answers on, then confirmed by redis-server itself starting on it.
redis_pid=""
stop_redis() { if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; redis_pid=""; fi; }
trap stop_redis EXIT
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  port=$((20000 + RANDOM % 30000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$PWD/$results" --logfile "$PWD/$results/redis.log" &
  redis_pid=$!
  for _ in $(seq 1 50); do
    grep -q "Ready to accept connections" "$results/redis.log" 2>/dev/null && break
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$redis_pid" 2>/dev/null && grep -q "Ready to accept connections" "$results/redis.log"; then break; fi
  stop_redis; rm -f "$results/redis.log"
done
if [ -z "$redis_pid" ]; then echo "could not start redis-server"; exit 1; fi
redis="127.0.0.1:$port"
echo "== redis-server $(redis-server --version | sed -nE 's/.*v=([0-9.]+).*/\1/p') on $redis (pid $redis_pid)"

failed=0
run() {
  echo "== $1"
  if ! "${bench[@]}" "$@" --results "$results" --redis "$redis" --seconds "$seconds"; then
    echo "!! $1 failed"; failed=$((failed + 1))
  fi
}
# The waiting-cost scenario measures heap and threads, so it runs first, in a fresh process.
run waiting
run hot
run many
run roundtrips
run micro
run durable

stop_redis
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
