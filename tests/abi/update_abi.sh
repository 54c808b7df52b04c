#!/bin/sh
# update_abi.sh LIB HEADERS_DIR ABI_DIR
# Run at release time only: records LIB's ABI as the new baseline that
# check_abi.sh compares against, and appends newly exported symbols to
# symbols-in-versions with the library's version.
set -eu
lib=$1 headers=$2 dir=$3
version=$(strings "$lib" | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+$' || true)
abidw --headers-dir "$headers" --no-corpus-path "$lib" > "$dir/libllm.abi"
touch "$dir/symbols-in-versions"
for s in $(nm -D --defined-only "$lib" | awk '$3 ~ /^llm_/ {print $3}' | sort); do
  grep -q "^$s " "$dir/symbols-in-versions" || echo "$s $version" >> "$dir/symbols-in-versions"
done
echo "baseline written to $dir/libllm.abi"
