#!/bin/sh
# `pip install bindings/python` must work offline with setuptools only:
# install into a temporary target (never the system) without build
# isolation or downloads, then import the installed copy.
# usage: pip_install.sh BINDINGS_PYTHON_DIR LIBLLM_SO
set -eu
src=$1
lib=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/src"   # pip builds in place: keep the source tree clean
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
  /usr/bin/python3 -m pip install --no-build-isolation --no-deps --no-index \
  --target "$tmp/site" "$tmp/src" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
test -f "$tmp/site/libllm/__init__.py"
test -f "$tmp/site/libllm/_lib.py"
cd "$tmp"
LIBLLM_LIBRARY=$lib PYTHONPATH="$tmp/site" /usr/bin/python3 -c '
import libllm, os
assert os.path.dirname(libllm.__file__).startswith(os.environ["PYTHONPATH"]), libllm.__file__
p = libllm.plan_for_compute(1e21)
assert p.params > 1e9, p
print("installed", libllm.__file__, libllm.version())
'
