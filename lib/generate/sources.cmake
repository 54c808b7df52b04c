# generate: the generation loop over a context, a sampler and a tokenizer
# (step-wise API, budgeted stepping, llm_generate). Uses only the public
# API of the model, sample and tokenizer parts, plus core.
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gen.c
  ${CMAKE_CURRENT_LIST_DIR}/gen_run.c
  ${CMAKE_CURRENT_LIST_DIR}/gen_stop.c)
