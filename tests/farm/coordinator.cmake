# Tests of the coordinator and of strike_common (farm-core). Included by tests/farm/CMakeLists.txt.
# The store tests start their own redis-server on a unix socket in a temporary directory.

# strike_coord_test(NAME name SOURCES files...): a test binary against the coordinator core.
function(strike_coord_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE strike_coord_core)
  target_include_directories(${T_NAME} PRIVATE ${STRIKE_FARM_TEST_DIR} ${CMAKE_SOURCE_DIR}/tests/engine)
  target_compile_definitions(${T_NAME} PRIVATE STRIKE_REDIS_SERVER="${STRIKE_REDIS_SERVER}")
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES SKIP_RETURN_CODE 77 LABELS "farm;coordinator" TIMEOUT 300)
endfunction()

if(TARGET strike_coord_core)
  strike_coord_test(NAME farm_coord_store SOURCES ${STRIKE_FARM_TEST_DIR}/test_coord_store.c)
endif()
if(TARGET strike_coord_core)
  strike_coord_test(NAME farm_coord_proto SOURCES ${STRIKE_FARM_TEST_DIR}/test_coord_proto.c)
endif()

# strike_common's rules and config table.
if(TARGET strike_common)
  add_executable(farm_common_rules ${STRIKE_FARM_TEST_DIR}/test_common_rules.c)
  target_link_libraries(farm_common_rules PRIVATE strike_common)
  target_include_directories(farm_common_rules PRIVATE ${CMAKE_SOURCE_DIR}/tests/engine)
  add_test(NAME farm_common_rules COMMAND farm_common_rules)
  set_tests_properties(farm_common_rules PROPERTIES LABELS "farm;common")
endif()

# Every coordinator setting has a row in docs/configuration.md.
if(TARGET strike_coord_core)
  strike_coord_test(NAME farm_coord_docs SOURCES ${STRIKE_FARM_TEST_DIR}/test_coord_docs.c)
  target_compile_definitions(farm_coord_docs PRIVATE STRIKE_DOCS_DIR="${CMAKE_SOURCE_DIR}/docs")
endif()
