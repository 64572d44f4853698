#!/usr/bin/env bash
# Adds every public symbol the build reports as undeclared (RS0016) to the project's PublicAPI.Unshipped.txt.
# Run it after changing the public API on purpose; review the diff: it is the API change.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in src/*/*.csproj; do
  dir=$(dirname "$project")
  [ -f "$dir/PublicAPI.Unshipped.txt" ] || continue
  dotnet build "$project" -c Release -nologo -v q 2>&1 \
    | grep -E "error RS0016" | grep -F "$dir/" \
    | sed -nE "s/.*Symbol '(.*)' is not part of the declared public API.*/\1/p" \
    | sort -u >> "$dir/PublicAPI.Unshipped.txt" || true
  { head -n 1 "$dir/PublicAPI.Unshipped.txt"; tail -n +2 "$dir/PublicAPI.Unshipped.txt" | sort -u; } > "$dir/PublicAPI.tmp" && mv "$dir/PublicAPI.tmp" "$dir/PublicAPI.Unshipped.txt"
done
