# model: the model handle and HF import, forward kernels, contexts with
# the KV cache, loss and evaluation (file formats are in lib/format).
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ctx.c
  ${CMAKE_CURRENT_LIST_DIR}/import.c
  ${CMAKE_CURRENT_LIST_DIR}/model.c
  ${CMAKE_CURRENT_LIST_DIR}/ops.c
  ${CMAKE_CURRENT_LIST_DIR}/qmat.c
  ${CMAKE_CURRENT_LIST_DIR}/qmv.c)

# Tiled attention and the cross-entropy fused with the output head
# (issue #10). Their element-wise loops (llm__vexp in vexp.h, row maxima)
# vectorize only when float comparisons may be if-converted; libllm never
# inspects floating-point exception flags or errno after math calls.
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/attn.c
  ${CMAKE_CURRENT_LIST_DIR}/xent.c)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/attn.c
    ${CMAKE_CURRENT_LIST_DIR}/xent.c ${CMAKE_CURRENT_LIST_DIR}/ops.c PROPERTIES
    COMPILE_OPTIONS "-fno-trapping-math;-fno-math-errno")
endif()
