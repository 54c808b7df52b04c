#!/bin/sh
# consumer.sh CMAKE BUILD_DIR WORK_DIR SRC_DIR CC VERSION
# Installs BUILD_DIR into WORK_DIR/prefix, checks the installed layout, and
# builds and runs tests/consumer/consumer.c against it with pkg-config and
# with CMake's find_package.
set -eu
cmake=$1 build=$2 work=$3 src=$4 cc=$5 version=$6
major=${version%%.*}
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"

fail() { echo "FAIL: $*"; exit 1; }
for f in include/llm.h "lib/libllm.so.$version" "lib/libllm.so.$major" lib/libllm.so \
         lib/pkgconfig/libllm.pc lib/cmake/libllm/libllmConfig.cmake \
         lib/cmake/libllm/libllmConfigVersion.cmake lib/cmake/libllm/libllmTargets.cmake \
         bin/libllm; do
  [ -e "$prefix/$f" ] || fail "install is missing $f"
done
# llm_mpi.h and libllm_mpi come only with the optional MPI component
# (lib/mpi/build.cmake), and then with their pkg-config file.
[ "$(ls "$prefix/include" | grep -v '^llm_mpi\.h$')" = "llm.h" ] ||
  fail "only llm.h (and llm_mpi.h) may be installed in include/"
if [ -e "$prefix/include/llm_mpi.h" ] || [ -e "$prefix/lib/libllm_mpi.so" ]; then
  for f in include/llm_mpi.h lib/libllm_mpi.so.0 lib/pkgconfig/libllm_mpi.pc; do
    [ -e "$prefix/$f" ] || fail "the MPI component is installed without $f"
  done
fi

# The installed CLI finds its library without LD_LIBRARY_PATH.
"$prefix/bin/libllm" --version | grep -q "libllm $version" || fail "installed CLI does not run"

# 1. pkg-config
cflags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags libllm)
libs=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --libs libllm)
[ "$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion libllm)" = "$version" ] ||
  fail "pkg-config reports the wrong version"
"$cc" -std=c99 -Wall -Werror $cflags "$src/consumer.c" -o "$work/consumer_pc" $libs \
  -Wl,-rpath,"$prefix/lib"
"$work/consumer_pc"

# 2. CMake package
mkdir -p "$work/cmake_src"
cp "$src/consumer.c" "$work/cmake_src/"
cp "$src/CMakeLists.txt.in" "$work/cmake_src/CMakeLists.txt"
"$cmake" -S "$work/cmake_src" -B "$work/cmake_build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" >"$work/cmake.log"
"$cmake" --build "$work/cmake_build" >>"$work/cmake.log"
"$work/cmake_build/consumer"
# 3. the installed Python package and Lua modules find the installed library
v=$(env -u LIBLLM_LIBRARY PYTHONPATH="$prefix/lib/python3/dist-packages" PYTHONDONTWRITEBYTECODE=1 \
    /usr/bin/python3 -c "import libllm; print(libllm.version())")
[ "$v" = "$version" ] || fail "installed Python package reports '$v'"
for luaver in 5.4 5.1; do
  lua=lua5.4
  [ "$luaver" = 5.1 ] && lua=luajit
  if [ -e "$prefix/lib/lua/$luaver/llm.so" ] && command -v $lua >/dev/null; then
    v=$(LUA_CPATH="$prefix/lib/lua/$luaver/?.so" $lua -e 'io.write(require("llm").version())')
    [ "$v" = "$version" ] || fail "installed Lua $luaver module reports '$v'"
  fi
done
[ -e "$prefix/lib/lua/5.4/llm.so" ] || fail "install is missing lib/lua/5.4/llm.so"

echo "OK: consumer built with pkg-config and with find_package(libllm)"
