# Compiler flags shared by every target of the project: warnings, the
# optional native tuning and sanitizers. Exposed as an INTERFACE target so
# that each target opts in explicitly.
add_library(llm_build_flags INTERFACE)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(llm_build_flags INTERFACE
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wformat=2 -Wvla)
  if(LLM_WERROR)
    target_compile_options(llm_build_flags INTERFACE -Werror)
  endif()
  if(LLM_NATIVE)
    target_compile_options(llm_build_flags INTERFACE -march=native)
  endif()
  if(LLM_SANITIZE)
    target_compile_options(llm_build_flags INTERFACE
      -fsanitize=${LLM_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(llm_build_flags INTERFACE -fsanitize=${LLM_SANITIZE})
  endif()
endif()
