# train: backward kernels, the training forward/backward, AdamW, the
# trainer handle, token files and checkpoints. Needs model and format.
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/adamw.c
  ${CMAKE_CURRENT_LIST_DIR}/allreduce.c
  ${CMAKE_CURRENT_LIST_DIR}/backprop.c
  ${CMAKE_CURRENT_LIST_DIR}/checkpoint.c
  ${CMAKE_CURRENT_LIST_DIR}/data.c
  ${CMAKE_CURRENT_LIST_DIR}/grad_ops.c
  ${CMAKE_CURRENT_LIST_DIR}/trainer.c)
# The element-wise kernels (exp, tanh, softmax over the vocabulary, the
# AdamW update with its sqrtf) only vectorize when float comparisons may
# be if-converted and sqrtf need not set errno; libllm never inspects
# floating-point exception flags or errno after math calls. (Same values:
# neither option changes what IEEE operations compute.)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/grad_ops.c
    ${CMAKE_CURRENT_LIST_DIR}/adamw.c PROPERTIES
    COMPILE_OPTIONS "-fno-trapping-math;-fno-math-errno")
endif()

# Backward of the tiled attention and of the fused cross-entropy (issue
# #10); same vectorization options as grad_ops.c.
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/grad_attn.c
  ${CMAKE_CURRENT_LIST_DIR}/grad_xent.c)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/grad_attn.c
    ${CMAKE_CURRENT_LIST_DIR}/grad_xent.c PROPERTIES
    COMPILE_OPTIONS "-fno-trapping-math;-fno-math-errno")
endif()
