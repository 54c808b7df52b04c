# core: handles, errors, allocation, logging, options, config, the thread
# pool and matrix products. Always built.
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/alloc.c
  ${CMAKE_CURRENT_LIST_DIR}/config.c
  ${CMAKE_CURRENT_LIST_DIR}/cpu.c
  ${CMAKE_CURRENT_LIST_DIR}/gemm.c
  ${CMAKE_CURRENT_LIST_DIR}/log.c
  ${CMAKE_CURRENT_LIST_DIR}/matvec.c
  ${CMAKE_CURRENT_LIST_DIR}/opts.c
  ${CMAKE_CURRENT_LIST_DIR}/pool.c
  ${CMAKE_CURRENT_LIST_DIR}/q8.c
  ${CMAKE_CURRENT_LIST_DIR}/q8gemm.c
  ${CMAKE_CURRENT_LIST_DIR}/status.c
  ${CMAKE_CURRENT_LIST_DIR}/version.c)

# The OpenMP build of OpenBLAS is reentrant: gemm.c then slices products
# over the pool, and needs libgomp for omp_set_num_threads (LlmBlas.cmake).
if(LLM_BLAS_REENTRANT)
  set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/gemm.c APPEND PROPERTY
               COMPILE_DEFINITIONS LLM_BLAS_REENTRANT=1)
  list(APPEND LLM_PRIVATE_DEPS ${LLM_BLAS_EXTRA_LIBS})
endif()
# Decode kernels for wider vector units: only these files are compiled for
# AVX2 / AVX-512 (never the whole library, which stays baseline x86-64),
# and cpu.c decides at run time whether they may run (llm_cpu.h).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64" AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  target_sources(llm_objs PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/matvec_avx2.c
    ${CMAKE_CURRENT_LIST_DIR}/matvec_avx512.c
    ${CMAKE_CURRENT_LIST_DIR}/q8gemm_avx2.c
    ${CMAKE_CURRENT_LIST_DIR}/q8gemm_avx512.c)
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/matvec_avx2.c
    ${CMAKE_CURRENT_LIST_DIR}/q8gemm_avx2.c PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/matvec_avx512.c PROPERTIES
    COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/q8gemm_avx512.c PROPERTIES
    COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/matvec.c ${CMAKE_CURRENT_LIST_DIR}/q8gemm.c
    PROPERTIES COMPILE_DEFINITIONS LLM_X86_KERNELS)
endif()
