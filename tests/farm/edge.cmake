# Tests of the farm's edge: PNG writer, worker, CLI, plus the end-to-end integration tests
# (real redis-server, coordinator, workers and CLI). Included by tests/farm/CMakeLists.txt.
find_package(PkgConfig REQUIRED)
pkg_check_modules(EDGE_PNG REQUIRED IMPORTED_TARGET libpng)

# PNG writer: compiled straight into its test so it needs nothing but libpng.
add_executable(farm_png_write ${STRIKE_FARM_TEST_DIR}/test_png_write.c ${CMAKE_SOURCE_DIR}/common/png_write.c)
target_include_directories(farm_png_write PRIVATE ${CMAKE_SOURCE_DIR}/common ${CMAKE_SOURCE_DIR}/tests/engine)
target_link_libraries(farm_png_write PRIVATE PkgConfig::EDGE_PNG)
add_test(NAME farm_png_write COMMAND farm_png_write)
set_tests_properties(farm_png_write PROPERTIES LABELS "farm;edge")

# CLI input reader: cli/input.c with its test (jansson only).
pkg_check_modules(EDGE_JANSSON REQUIRED IMPORTED_TARGET jansson)
add_executable(farm_cli_input ${STRIKE_FARM_TEST_DIR}/test_cli_input.c ${CMAKE_SOURCE_DIR}/cli/input.c)
target_include_directories(farm_cli_input PRIVATE ${CMAKE_SOURCE_DIR}/cli ${CMAKE_SOURCE_DIR}/tests/engine)
target_link_libraries(farm_cli_input PRIVATE strike_common PkgConfig::EDGE_JANSSON)
add_test(NAME farm_cli_input COMMAND farm_cli_input)
set_tests_properties(farm_cli_input PROPERTIES LABELS "farm;edge")

# The worker's null test engine.
add_executable(farm_worker_null ${STRIKE_FARM_TEST_DIR}/test_worker_null.c ${CMAKE_SOURCE_DIR}/worker/engine_null.c)
target_include_directories(farm_worker_null PRIVATE ${CMAKE_SOURCE_DIR}/worker ${CMAKE_SOURCE_DIR}/tests/engine)
add_test(NAME farm_worker_null COMMAND farm_worker_null)
set_tests_properties(farm_worker_null PROPERTIES LABELS "farm;edge")

# Test helpers: PNG decoder check and a raw ZeroMQ peer that sends bad frames.
add_executable(farm_png_check ${STRIKE_FARM_TEST_DIR}/png_check.c)
target_link_libraries(farm_png_check PRIVATE PkgConfig::EDGE_PNG)
add_executable(farm_raw_peer ${STRIKE_FARM_TEST_DIR}/raw_peer.c)
target_link_libraries(farm_raw_peer PRIVATE strike_common)

# Integration tests: real redis-server (unix socket in a temp dir), coordinator, workers, CLI.
# They share the machine's cores, so they run one at a time (RESOURCE_LOCK).
# Each listed test has been run green against the coordinator it ships with.
set(EDGE_INTEGRATION_TESTS e2e kill_worker coord_restart cancel bad_input redis_restart bad_frames retry
  worker_restart lost_shard worker_device
  slow_batch worker_overlap)
if(TARGET strike-coordinator AND TARGET strike-worker AND TARGET strike)
  foreach(t ${EDGE_INTEGRATION_TESTS})
    add_test(NAME farm_${t} COMMAND bash ${STRIKE_FARM_TEST_DIR}/test_farm_${t}.sh)
    set_tests_properties(farm_${t} PROPERTIES
      LABELS "farm;edge;integration"
      RESOURCE_LOCK strike_farm
      TIMEOUT 300
      ENVIRONMENT "STRIKE_BIN_DIR=${CMAKE_BINARY_DIR};REDIS_SERVER=${STRIKE_REDIS_SERVER};STRIKE_PNG_CHECK=$<TARGET_FILE:farm_png_check>;STRIKE_RAW_PEER=$<TARGET_FILE:farm_raw_peer>")
    set_property(TEST farm_${t} APPEND PROPERTY DEPENDS farm_png_check)
  endforeach()
endif()
