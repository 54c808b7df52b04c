#!/bin/sh
# cli.sh LIBLLM: the command-line contract of every subcommand.
#  - no arguments, an unknown command or option: exit 2 with a message;
#  - `<cmd> --help` and `help <cmd>`: exit 0, usage on stdout;
#  - `<cmd> --no-such-option`: exit 2 with a message naming the option;
#  - `version --json`: valid JSON with the library's version.
set -u
cli=$1
fails=0
expect() { # expect CODE PATTERN -- ARGS...: exit code CODE, stderr+stdout match PATTERN
  code=$1 pat=$2
  shift 3
  out=$("$cli" "$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$code" ]; then
    echo "FAIL: libllm $* exited $rc, expected $code: $out"; fails=$((fails + 1)); return
  fi
  if [ -n "$pat" ] && ! printf '%s' "$out" | grep -qE -- "$pat"; then
    echo "FAIL: libllm $*: output does not match '$pat': $out"; fails=$((fails + 1)); return
  fi
  echo "ok: libllm $* -> $rc"
}

expect 2 "Usage: libllm" --
expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 "unknown option '--frobnicate'" -- --frobnicate
expect 0 "Commands:" -- --help
expect 0 "^libllm [0-9]+\.[0-9]+\.[0-9]+" -- --version
expect 2 "unknown command 'nope'" -- help nope

# Every listed command honours --help and rejects an unknown option.
for cmd in $("$cli" --help | awk '/^Commands:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on=0}'); do
  expect 0 "[Uu]sage" -- "$cmd" --help
  expect 0 "[Uu]sage" -- help "$cmd"
  [ "$cmd" = help ] && continue
  expect 2 "no-such-option" -- "$cmd" --no-such-option
done

json=$("$cli" version --json)
if ! printf '%s' "$json" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["abi"]==int(d["version"].split(".")[0]), d' 2>/dev/null; then
  echo "FAIL: version --json is not the expected JSON: $json"; fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "OK: CLI contract holds"
