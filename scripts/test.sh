#!/usr/bin/env bash
# Runs every test of the repository: unit, behaviour (in-memory, Redis, Garnet), integration, browser; then the
# Redis tests again against the newest StackExchange.Redis 2.x (the default build uses the floor, 2.7.27).
# Installs what the tests need when it is missing: redis-server, redis-sentinel (the failover tests) and chromium
# from Debian's packages, Garnet
# (the dotnet tool garnet-server) into artifacts/tools/garnet.
# The last line is the plain summary "N passed, N failed" of both runs together.
# Arguments go to the first "dotnet test"; with arguments, the second run is left out.
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

# The Redis tests (namespace SessionLocking.Tests.Redis) against the newest StackExchange.Redis 2.x, built apart.
if [ $# -eq 0 ]; then
  newest=$(sed -nE 's/.*<StackExchangeRedisNewest>([^<]+)<.*/\1/p' Directory.Build.props)
  echo "Redis tests against StackExchange.Redis $newest ..."
  newest_out=artifacts/se-redis-newest
  if dotnet build tests/SessionLocking.Tests -c Release -nologo -v q -p:StackExchangeRedisVersion="$newest" \
       --artifacts-path "$newest_out" >"$log.newest" 2>&1; then
    dotnet test "$newest_out/bin/SessionLocking.Tests/release/SessionLocking.Tests.dll" \
      --filter "FullyQualifiedName~SessionLocking.Tests.Redis." 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" -ne 0 ] && status=1
  else
    grep -E "error" "$log.newest" | sort -u
    echo "Failed!  - Failed:     1, Passed:     0, Skipped:     0, Total:     1 - build against StackExchange.Redis $newest" >>"$log"
    status=1
  fi
  rm -f "$log.newest"
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
