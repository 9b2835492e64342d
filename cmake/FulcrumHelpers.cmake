# Target helpers: every library, executable, test and benchmark gets the same warnings.

function(fulcrum_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(FULCRUM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# fulcrum_cc_library(NAME SRCS ... DEPS ...)
function(fulcrum_cc_library name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${A_DEPS})
  fulcrum_warnings(${name})
endfunction()

# fulcrum_cc_binary(NAME SRCS ... DEPS ...): lands in build/bin/
function(fulcrum_cc_binary name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  fulcrum_warnings(${name})
endfunction()

# fulcrum_cc_test(NAME SRCS ... DEPS ... [LABELS ...]): a GoogleTest binary registered with CTest.
function(fulcrum_cc_test name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE FULCRUM_TEST_DATA="${CMAKE_CURRENT_SOURCE_DIR}")
  fulcrum_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(A_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}")
  else()
    set_tests_properties(${name} PROPERTIES LABELS unit)
  endif()
endfunction()

# fulcrum_py_test(NAME SCRIPT [LABELS ...]): an integration test that drives real processes.
# The script gets FULCRUM_BIN (the executables) and runs with the stdlib only.
function(fulcrum_py_test name script)
  cmake_parse_arguments(A "" "TIMEOUT" "LABELS" ${ARGN})
  add_test(NAME ${name} COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/${script})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  if(NOT A_LABELS)
    set(A_LABELS integration)
  endif()
  set_tests_properties(${name} PROPERTIES
    LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "FULCRUM_BIN=${CMAKE_RUNTIME_OUTPUT_DIRECTORY};PYTHONPATH=${PROJECT_SOURCE_DIR}/tests/integration/lib;PYTHONDONTWRITEBYTECODE=1")
endfunction()

# fulcrum_cc_fuzz(NAME SRCS ... DEPS ... CORPUS dir): a libFuzzer target (fuzz preset) and, in
# every other build, a replay test that runs each corpus file through the same entry point.
function(fulcrum_cc_fuzz name)
  cmake_parse_arguments(A "" "CORPUS" "SRCS;DEPS" ${ARGN})
  if(FULCRUM_FUZZ)
    add_executable(${name} ${A_SRCS})
    target_link_libraries(${name} PRIVATE ${A_DEPS})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  else()
    add_executable(${name}_replay ${A_SRCS} ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
    target_link_libraries(${name}_replay PRIVATE ${A_DEPS})
    set_target_properties(${name}_replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    fulcrum_warnings(${name}_replay)
    add_test(NAME ${name}_corpus COMMAND ${name}_replay ${A_CORPUS})
    set_tests_properties(${name}_corpus PROPERTIES LABELS fuzz)
  endif()
endfunction()
