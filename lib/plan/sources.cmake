# plan: scaling laws - parameter/FLOP accounting, Chinchilla planning,
# config suggestion, fitting the parametric law (L-BFGS). Needs only core.
target_sources(llm_objs PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/constants.c
  ${CMAKE_CURRENT_LIST_DIR}/count.c
  ${CMAKE_CURRENT_LIST_DIR}/fit.c
  ${CMAKE_CURRENT_LIST_DIR}/lbfgs.c
  ${CMAKE_CURRENT_LIST_DIR}/plan.c
  ${CMAKE_CURRENT_LIST_DIR}/suggest.c)
