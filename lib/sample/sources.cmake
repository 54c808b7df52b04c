# sample: the sampling chain (logit bias, penalties, temperature, top-k,
# top-p, min-p, seeded draw). Depends on core only.
set(_llm_sample_sources
  ${CMAKE_CURRENT_LIST_DIR}/chain.c
  ${CMAKE_CURRENT_LIST_DIR}/rng.c
  ${CMAKE_CURRENT_LIST_DIR}/sampler.c)
target_sources(llm_objs PRIVATE ${_llm_sample_sources})
# Same bits on every platform: no fused multiply-add contraction (Clang
# contracts by default; GCC does in GNU modes).
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  set_source_files_properties(${_llm_sample_sources} PROPERTIES COMPILE_OPTIONS -ffp-contract=off)
endif()
