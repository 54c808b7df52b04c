# lib/mpi: libllm_mpi, the optional MPI transport of data-parallel
# training (include/llm_mpi.h). libllm itself stays MPI-free; this small
# shared library implements the trainer's all-reduce hook with Open MPI
# and is built and installed only when MPI's C development files are
# found (Debian: libopenmpi-dev, openmpi-bin).
find_package(MPI QUIET COMPONENTS C)
if(MPI_C_FOUND)
  add_library(llm_mpi SHARED ${CMAKE_CURRENT_LIST_DIR}/llm_mpi.c)
  add_library(libllm::llm_mpi ALIAS llm_mpi)
  set_target_properties(llm_mpi PROPERTIES
    OUTPUT_NAME llm_mpi
    VERSION 0.${PROJECT_VERSION_MINOR}.${PROJECT_VERSION_PATCH}
    SOVERSION 0
    C_VISIBILITY_PRESET hidden
    PUBLIC_HEADER ${PROJECT_SOURCE_DIR}/include/llm_mpi.h
    INSTALL_RPATH "$ORIGIN")
  target_compile_definitions(llm_mpi PRIVATE _POSIX_C_SOURCE=200809L)
  target_include_directories(llm_mpi PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(llm_mpi PUBLIC llm PRIVATE MPI::MPI_C llm_build_flags)
  if(NOT LLM_SANITIZE)
    target_link_options(llm_mpi PRIVATE -Wl,--no-undefined)
  endif()
  install(TARGETS llm_mpi
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  # pkg-config: libllm_mpi.pc, relocatable like libllm.pc
  file(RELATIVE_PATH LLM_MPI_PC_PREFIX_REL /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/libllm_mpi.pc CONTENT
"prefix=\${pcfiledir}/${LLM_MPI_PC_PREFIX_REL}
libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}

Name: libllm_mpi
Description: MPI transport for libllm's data-parallel training
Version: ${PROJECT_VERSION}
Requires: libllm
Requires.private: ompi-c
Libs: -L\${libdir} -lllm_mpi
Cflags: -I\${includedir}
")
  install(FILES ${PROJECT_BINARY_DIR}/libllm_mpi.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  message(STATUS "MPI found (${MPI_C_VERSION}): building libllm_mpi")
else()
  message(STATUS "MPI not found: libllm_mpi and `libllm train --distributed mpi` are not "
                 "built (install libopenmpi-dev openmpi-bin)")
endif()
