#!/usr/bin/env bash
# Brings each src project's PublicAPI.Unshipped.txt in line with its code: adds every public symbol the build
# reports as undeclared (RS0016) and drops every declared one that is gone (RS0017). Run it after changing the
# public API on purpose, then review the diff: it is the API change.
set -euo pipefail
cd "$(dirname "$0")/.."
for round in 1 2 3; do
  changed=0
  for project in src/*/*.csproj; do
    dir=$(dirname "$project")
    file="$dir/PublicAPI.Unshipped.txt"
    [ -f "$file" ] || continue
    out=$(dotnet build "$project" -c Release -nologo -v q 2>&1 | grep -F "$dir/" || true)
    added=$(sed -nE "s/.*error RS0016: Symbol '(.*)' is not part of the declared public API.*/\1/p" <<<"$out" | sort -u)
    gone=$(sed -nE "s/.*error RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found.*/\1/p" <<<"$out" | sort -u)
    [ -z "$added$gone" ] && continue
    changed=1
    {
      head -n 1 "$file"
      { tail -n +2 "$file"; [ -n "$added" ] && printf '%s\n' "$added"; } | sort -u | grep -vxF -f <(printf '%s\n' "${gone:-__none__}") || true
    } > "$file.tmp" && mv "$file.tmp" "$file"
  done
  [ "$changed" -eq 0 ] && break
done
