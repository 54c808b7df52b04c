# OpenBLAS, found through pkg-config (module `openblas`).
#
# libllm must start no thread of its own unless asked (games embed it),
# and its products must be sliceable over the context's own thread pool.
# Debian ships three builds of OpenBLAS 0.3.21 side by side:
#   pthread - starts its worker threads when the library is loaded, before
#             any libllm call: ruled out (measured: tests/api no_threads);
#   serial  - starts none, but its packing-buffer allocator has no lock
#             (built without USE_LOCKING), so two threads inside
#             cblas_sgemm at once can compute wrong products;
#   openmp  - starts none at load, has a locked allocator, and uses one
#             thread per call when the calling thread's OpenMP thread
#             count is 1 (then no OpenMP team is ever started).
# libllm links the openmp build (default) and always calls it with one
# OpenMP thread; parallel products are sliced over libllm's pool
# (lib/core/gemm.c), so OpenBLAS and libllm never run two thread teams at
# once. LLM_BLAS_VARIANT=serial links the serial build instead and then
# serialises every call behind a lock (correct, one core per product);
# LLM_BLAS_VARIANT=system takes whatever `openblas` pkg-config names and
# is treated like serial.
set(LLM_BLAS_VARIANT "openmp" CACHE STRING "OpenBLAS build to link: openmp, serial or system")
set_property(CACHE LLM_BLAS_VARIANT PROPERTY STRINGS openmp serial system)

set(LLM_BLAS_REENTRANT OFF)
if(LLM_BLAS_VARIANT STREQUAL "openmp" OR LLM_BLAS_VARIANT STREQUAL "serial")
  if(CMAKE_LIBRARY_ARCHITECTURE)
    set(_llm_blas_pc /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-${LLM_BLAS_VARIANT}/pkgconfig)
  else()
    set(_llm_blas_pc /usr/lib/openblas-${LLM_BLAS_VARIANT}/pkgconfig)
  endif()
  if(EXISTS ${_llm_blas_pc}/openblas.pc)
    set(ENV{PKG_CONFIG_PATH} "${_llm_blas_pc}:$ENV{PKG_CONFIG_PATH}")
    if(LLM_BLAS_VARIANT STREQUAL "openmp")
      set(LLM_BLAS_REENTRANT ON)
    endif()
  else()
    message(WARNING "OpenBLAS ${LLM_BLAS_VARIANT} build not found (${_llm_blas_pc}); "
                    "linking the system's default build, which may start threads when "
                    "loaded, and serialising products. On Debian: apt-get install "
                    "libopenblas-${LLM_BLAS_VARIANT}-dev")
  endif()
endif()
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
message(STATUS "OpenBLAS: ${OPENBLAS_LINK_LIBRARIES} (reentrant, sliced over the pool: ${LLM_BLAS_REENTRANT})")

# libgomp: the openmp build's runtime, whose per-thread thread count
# gemm.c sets to 1 around each call (omp_set_num_threads). Linked
# explicitly so that -Wl,--no-undefined holds; with clang the GCC runtime
# is found the same way (clang searches GCC's library directory).
set(LLM_BLAS_EXTRA_LIBS "")
if(LLM_BLAS_REENTRANT)
  find_library(LLM_GOMP_LIBRARY NAMES gomp libgomp.so.1
               HINTS ${CMAKE_C_IMPLICIT_LINK_DIRECTORIES})
  if(NOT LLM_GOMP_LIBRARY)
    message(FATAL_ERROR "libgomp not found (needed by the OpenMP build of OpenBLAS)")
  endif()
  set(LLM_BLAS_EXTRA_LIBS ${LLM_GOMP_LIBRARY})
endif()

# The chosen build's directory is not the one the system loader picks for
# libopenblas.so.0 (Debian's alternatives usually point to the pthread
# build), so record it as the library's run path.
set(LLM_BLAS_RPATH "${OPENBLAS_LIBRARY_DIRS}")
