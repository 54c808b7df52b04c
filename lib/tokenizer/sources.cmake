# tokenizer: byte-level BPE (GPT-2, cl100k, o200k), vocabulary loaders,
# streaming decode, BPE training, SentencePiece BPE. Splitting uses PCRE2.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_bpe.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_split.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_load.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_stream.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_spec.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_gguf.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_train.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_save.c
  ${CMAKE_CURRENT_LIST_DIR}/tok_spm.c)
list(APPEND LLM_PRIVATE_DEPS PkgConfig::PCRE2)
