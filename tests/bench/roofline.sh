#!/bin/sh
# roofline.sh BUILD_DIR [THREADS] [READ_MB] - the sgemm and memory-read
# ceilings of this machine (tests/bench/roofline.c), printed as
# `bench=roofline ...` lines. roofline.c is compiled here and linked against
# the same libopenblas file that BUILD_DIR's libllm.so resolves (ldd), with
# that file's directory as run path, so the sgemm figure is the one libllm's
# products can reach, whichever OpenBLAS build (serial, pthreads, OpenMP)
# the project links. Needs a built BUILD_DIR/lib/libllm.so.
set -e
B=${1:?usage: roofline.sh BUILD_DIR [THREADS] [READ_MB]}
THREADS=${2:-2}
MB=${3:-1024}
HERE=$(cd "$(dirname "$0")" && pwd)
SO="$B/lib/libllm.so"
[ -f "$SO" ] || cmake --build "$B" --target llm -j2 >/dev/null
BLAS=$(ldd "$SO" | awk '/libopenblas/ { print $3; exit }')
if [ -z "$BLAS" ] || [ ! -f "$BLAS" ]; then
  echo "roofline.sh: cannot find the libopenblas that $SO loads" >&2
  exit 1
fi
OUT="$B/tests/bench"
mkdir -p "$OUT"
# Also link what libllm links beside OpenBLAS for threading (libgomp when
# the OpenMP build is used: the BLAS needs its runtime).
EXTRA=$(ldd "$SO" | awk '/libgomp/ { print $3; exit }')
cc -std=c11 -O3 -march=native -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow \
   -Wstrict-prototypes -Wmissing-prototypes -Wvla -o "$OUT/roofline" "$HERE/roofline.c" \
   "$BLAS" ${EXTRA:+"$EXTRA"} -Wl,-rpath,"$(dirname "$BLAS")" -lpthread
exec "$OUT/roofline" "$THREADS" "$MB"
