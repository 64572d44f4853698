#!/usr/bin/env bash
# Runs every test of the repository: unit, behaviour (in-memory, Redis, Garnet), integration, browser; then the
# Redis tests again against the newest StackExchange.Redis 2.x and again against the newest 3.x (the default build
# uses the floor, 2.7.27).
# Installs what the tests need when it is missing: redis-server, redis-sentinel (the failover tests) and chromium
# from Debian's packages, Garnet
# (the dotnet tool garnet-server) into artifacts/tools/garnet.
# The last line is the plain summary "N passed, N failed" of all runs together.
# Arguments go to the first "dotnet test"; with arguments, the other runs are left out.
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing ${need[*]} ..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
    || { echo "could not install ${need[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

garnet_dir=artifacts/tools/garnet
if [ ! -x "$garnet_dir/garnet-server" ]; then
  echo "Installing garnet-server 2.2.12 into $garnet_dir ..."
  dotnet tool install --tool-path "$garnet_dir" garnet-server --version 2.2.12 >/dev/null \
    || { echo "could not install garnet-server"; echo "0 passed, 1 failed"; exit 1; }
fi
export GARNET_SERVER="$PWD/$garnet_dir/garnet-server"

log=$(mktemp)
dotnet build SessionLocking.sln -c Release -nologo -v q 2>&1 | tee "$log" | grep -E "error|Warn|warn" || true
if ! grep -q "Build succeeded" "$log"; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

dotnet test SessionLocking.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The Redis tests (namespace SessionLocking.Tests.Redis) against another StackExchange.Redis, built apart (the store
# and the tests; System.IO.Hashing beside it as Directory.Build.props says).
redis_tests_against() {
  local version=$1 out=$2
  echo "Redis tests against StackExchange.Redis $version ..."
  if dotnet build tests/SessionLocking.Tests -c Release -nologo -v q -p:StackExchangeRedisVersion="$version" \
       --artifacts-path "$out" >"$log.other" 2>&1; then
    dotnet test "$out/bin/SessionLocking.Tests/release/SessionLocking.Tests.dll" \
      --filter "FullyQualifiedName~SessionLocking.Tests.Redis." 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
  else
    grep -E "error" "$log.other" | sort -u
    echo "Failed!  - Failed:     1, Passed:     0, Skipped:     0, Total:     1 - build against StackExchange.Redis $version" >>"$log"
    status=1
  fi
  rm -f "$log.other"
}

if [ $# -eq 0 ]; then
  redis_tests_against "$(sed -nE 's/.*<StackExchangeRedisNewest>([^<]+)<.*/\1/p' Directory.Build.props)" artifacts/se-redis-newest
  redis_tests_against "$(sed -nE 's/.*<StackExchangeRedisNewest3>([^<]+)<.*/\1/p' Directory.Build.props)" artifacts/se-redis-newest3
fi

passed=0; failed=0
while read -r line; do
  p=$(sed -nE 's/.*Passed: *([0-9]+).*/\1/p' <<<"$line"); f=$(sed -nE 's/.*Failed: *([0-9]+),.*/\1/p' <<<"$line")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done < <(grep -E "^(Passed|Failed)! +- +Failed: " "$log")
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
