# core: handles, errors, allocation, logging, options, config, the thread
# pool and matrix products. Always built.
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/alloc.c
  ${CMAKE_CURRENT_LIST_DIR}/config.c
  ${CMAKE_CURRENT_LIST_DIR}/gemm.c
  ${CMAKE_CURRENT_LIST_DIR}/log.c
  ${CMAKE_CURRENT_LIST_DIR}/opts.c
  ${CMAKE_CURRENT_LIST_DIR}/pool.c
  ${CMAKE_CURRENT_LIST_DIR}/status.c
  ${CMAKE_CURRENT_LIST_DIR}/version.c)

# The OpenMP build of OpenBLAS is reentrant: gemm.c then slices products
# over the pool, and needs libgomp for omp_set_num_threads (LlmBlas.cmake).
if(LLM_BLAS_REENTRANT)
  set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/gemm.c APPEND PROPERTY
               COMPILE_DEFINITIONS LLM_BLAS_REENTRANT=1)
  list(APPEND LLM_PRIVATE_DEPS ${LLM_BLAS_EXTRA_LIBS})
endif()
