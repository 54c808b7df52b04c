# Installation: header, library, pkg-config file, CMake package
# (find_package(libllm CONFIG) -> target libllm::llm) and the CLI.
include(CMakePackageConfigHelpers)

set(LLM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/libllm)

install(TARGETS llm EXPORT libllmTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT libllmTargets
  NAMESPACE libllm::
  FILE libllmTargets.cmake
  DESTINATION ${LLM_CMAKE_DIR})

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/libllmConfig.cmake.in
  ${PROJECT_BINARY_DIR}/libllmConfig.cmake
  INSTALL_DESTINATION ${LLM_CMAKE_DIR})
# Same major version = same SONAME = compatible.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/libllmConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/libllmConfig.cmake
  ${PROJECT_BINARY_DIR}/libllmConfigVersion.cmake
  DESTINATION ${LLM_CMAKE_DIR})

# pkg-config: the prefix is computed from the .pc file's own location, so
# the installed tree can be moved.
file(RELATIVE_PATH LLM_PC_PREFIX_REL
  /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${PROJECT_SOURCE_DIR}/cmake/libllm.pc.in
  ${PROJECT_BINARY_DIR}/libllm.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/libllm.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
