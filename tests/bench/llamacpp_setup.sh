#!/bin/sh
# llamacpp_setup.sh [DIR] - installs the llama.cpp peer for
# bench_llamacpp.sh into DIR (default: $LLAMACPP_DIR, else
# $HOME/.cache/libllm-llamacpp), outside the source tree.
#
# llama.cpp itself comes from npm: node-llama-cpp ships prebuilt
# libllama/libggml shared objects (@node-llama-cpp/linux-x64, with one ggml
# CPU backend per x86 level, picked at run time) and the llama.cpp source
# of the same release as a git bundle. The bundle gives the headers and the
# two tools' sources (tools/llama-bench, tools/quantize), which are compiled
# here against the prebuilt libraries (a few seconds: the libraries are not
# rebuilt). Nothing is downloaded but the npm packages.
# Leaves DIR/bin/llama-bench and DIR/bin/llama-quantize (with links to the
# CPU backends beside them).
set -e
DIR=${1:-${LLAMACPP_DIR:-$HOME/.cache/libllm-llamacpp}}
mkdir -p "$DIR"
cd "$DIR"
if [ ! -d node_modules/node-llama-cpp ]; then
  [ -f package.json ] || npm init -y >/dev/null
  # --ignore-scripts: node-llama-cpp's postinstall only checks its binaries.
  npm install --ignore-scripts --no-audit --no-fund node-llama-cpp >/dev/null
fi
LIB=$(ls -d "$DIR"/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 2>/dev/null || true)
if [ -z "$LIB" ] || ! ls "$LIB"/libllama*.so >/dev/null 2>&1; then
  echo "llamacpp_setup.sh: no prebuilt llama.cpp for this platform in node-llama-cpp" >&2
  exit 1
fi
if [ ! -d src/.git ]; then
  rm -rf src
  git clone -q node_modules/node-llama-cpp/llama/gitRelease.bundle src 2>/dev/null
fi
LLAMA='' GGML=''
for f in "$LIB"/libllama.*so; do [ -f "$f" ] && LLAMA=$(basename "$f"); done
for f in "$LIB"/libggml.*so; do [ -f "$f" ] && GGML=$(basename "$f"); done
mkdir -p bin
for t in llama-bench:llama-bench quantize:llama-quantize; do
  src=${t%%:*} out=${t##*:}
  g++ -std=c++17 -O2 -DNDEBUG -Isrc/include -Isrc/ggml/include -Isrc/common -Isrc/vendor \
      -Isrc/tools/"$src" src/tools/"$src"/*.cpp -o bin/"$out" -L"$LIB" -l:libllama-common.so \
      -l:"$LLAMA" -l:"$GGML" -l:libggml-base.so -Wl,-rpath,"$LIB" -lpthread
done
# ggml finds its CPU backends (libggml-cpu-<level>.so) beside the executable.
ln -sf "$LIB"/libggml-cpu-*.so bin/
echo "llama.cpp peer ready: $DIR/bin/llama-bench $DIR/bin/llama-quantize ($(tr -d ' \n' <"$DIR"/node_modules/node-llama-cpp/llama/llama.cpp.info.json))"
