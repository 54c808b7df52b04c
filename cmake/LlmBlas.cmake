# OpenBLAS, found through pkg-config (module `openblas`).
#
# libllm must start no thread of its own unless asked (games embed it).
# The threaded OpenBLAS builds start their worker threads when the library
# is loaded, before any libllm call, so by default we link the serial
# build, which Debian ships beside the threaded one (libopenblas0-serial),
# and run multi-threaded products on libllm's own thread pool, started
# only for contexts that ask for more than one thread.
#
# LLM_BLAS_VARIANT=serial (default) looks for the serial build's .pc file
# first and falls back to the system's default `openblas` with a warning;
# LLM_BLAS_VARIANT=system takes whatever `openblas` pkg-config names.
set(LLM_BLAS_VARIANT "serial" CACHE STRING "OpenBLAS build to link: serial or system")
set_property(CACHE LLM_BLAS_VARIANT PROPERTY STRINGS serial system)

if(LLM_BLAS_VARIANT STREQUAL "serial")
  if(CMAKE_LIBRARY_ARCHITECTURE)
    set(_llm_serial_pc /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-serial/pkgconfig)
  else()
    set(_llm_serial_pc /usr/lib/openblas-serial/pkgconfig)
  endif()
  if(EXISTS ${_llm_serial_pc}/openblas.pc)
    set(ENV{PKG_CONFIG_PATH} "${_llm_serial_pc}:$ENV{PKG_CONFIG_PATH}")
  else()
    message(WARNING "serial OpenBLAS not found (${_llm_serial_pc}); linking the "
                    "system's default build, which may start threads when loaded. "
                    "On Debian: apt-get install libopenblas-serial-dev")
  endif()
endif()
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
message(STATUS "OpenBLAS: ${OPENBLAS_LINK_LIBRARIES}")

# The serial build's directory is not the one the system loader picks for
# libopenblas.so.0 (Debian's alternatives point there to the threaded
# build), so record it as the library's run path.
set(LLM_BLAS_RPATH "${OPENBLAS_LIBRARY_DIRS}")
