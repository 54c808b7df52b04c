#!/bin/sh
# check_exports.sh LIB SONAME: every defined dynamic symbol of LIB is an
# llm_ function or object, and LIB's SONAME is SONAME.
set -eu
lib=$1
want_soname=$2
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRVWiu]/ {print $3}' |
      grep -vE '^(llm_[a-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' || true)
if [ -n "$bad" ]; then
  echo "FAIL: $lib exports symbols without the llm_ prefix:"
  echo "$bad"
  exit 1
fi
internal=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -E '^llm__' || true)
if [ -n "$internal" ]; then
  echo "FAIL: internal llm__ symbols are exported:"
  echo "$internal"
  exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "$want_soname" ]; then
  echo "FAIL: SONAME is '$soname', expected '$want_soname'"
  exit 1
fi
n=$(nm -D --defined-only "$lib" | grep -c ' T llm_')
echo "OK: $n llm_ functions exported, SONAME $soname"
