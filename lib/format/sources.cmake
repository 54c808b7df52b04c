# format: readers and writers of file formats shared by several parts:
# strict JSON (vocabularies, configs, safetensors headers), GGUF (models
# and tokenizers) and safetensors (Hugging Face checkpoints).
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/json.c
  ${CMAKE_CURRENT_LIST_DIR}/gguf.c
  ${CMAKE_CURRENT_LIST_DIR}/safetensors.c
  ${CMAKE_CURRENT_LIST_DIR}/limits.c)
