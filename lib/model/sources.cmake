# model: the model handle and HF import, forward kernels, contexts with
# the KV cache, loss and evaluation (file formats are in lib/format).
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ctx.c
  ${CMAKE_CURRENT_LIST_DIR}/import.c
  ${CMAKE_CURRENT_LIST_DIR}/model.c
  ${CMAKE_CURRENT_LIST_DIR}/ops.c)
