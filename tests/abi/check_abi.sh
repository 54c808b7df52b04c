#!/bin/sh
# check_abi.sh LIB HEADERS_DIR ABI_DIR
# The ABI guard. Compares LIB with the description of the last release
# (ABI_DIR/libllm.abi, written by abidw) and fails on any incompatible
# change: a removed or re-typed function, a changed struct layout, ...
# Compatible additions (new functions, fields appended to option structs)
# pass. Also checks that ABI_DIR/symbols-in-versions lists exactly the
# exported llm_ symbols, so each new symbol records the version that added
# it (curl's symbols-in-versions).
set -eu
lib=$1 headers=$2 dir=$3
fail() { echo "FAIL: $*"; exit 1; }

tmp=${TMPDIR:-/tmp}/llm_abi.$$
nm -D --defined-only "$lib" | awk '$3 ~ /^llm_/ {print $3}' | sort > "$tmp.exported"
grep -v '^#' "$dir/symbols-in-versions" | awk 'NF {print $1}' | sort > "$tmp.listed"
gone=$(comm -13 "$tmp.exported" "$tmp.listed")
unlisted=$(comm -23 "$tmp.exported" "$tmp.listed")
n_exported=$(wc -l < "$tmp.exported")
rm -f "$tmp.exported" "$tmp.listed"
[ -z "$gone" ] || fail "symbols listed in tests/abi/symbols-in-versions are no longer exported (ABI break): $gone"
[ -z "$unlisted" ] || fail "exported symbols missing from tests/abi/symbols-in-versions (add each with the version that introduces it): $unlisted"

if ! command -v abidiff >/dev/null 2>&1; then
  fail "abidiff not found (Debian package abigail-tools)"
fi
cur=$tmp.xml
abidw --headers-dir "$headers" --no-corpus-path "$lib" > "$cur"
set +e
abidiff --headers-dir1 "$headers" --headers-dir2 "$headers" "$dir/libllm.abi" "$cur" > "$cur.diff" 2>&1
rc=$?
set -e
# abidiff flags only removals as incompatible (bit 8) and reports every
# other change as "changed" (bit 4). Within a major version only two
# changes are allowed: new functions, and members appended to the end of
# an option struct (its size grows, no existing member moves). Anything
# else -- a moved or re-typed member, a changed parameter or return type,
# a removed member -- is a break.
breaks=$(grep -E "offset changed|data members? deletion|[1-9][0-9]* Removed|deleted|parameter [0-9]+ of type '[^']*' changed|return type changed|type of '[^']*' changed|name of '|enumerator" "$cur.diff" || true)
if [ $((rc & 8)) -ne 0 ] || [ $((rc & 1)) -ne 0 ] || [ $((rc & 2)) -ne 0 ] || [ -n "$breaks" ]; then
  cat "$cur.diff"
  rm -f "$cur" "$cur.diff"
  fail "incompatible ABI change against the released ABI (abidiff exit $rc)"
fi
if [ $((rc & 4)) -ne 0 ]; then
  echo "compatible ABI changes since the release:"
  head -40 "$cur.diff"
fi
rm -f "$cur" "$cur.diff"
echo "OK: ABI compatible with the last release; $n_exported symbols, all listed"
