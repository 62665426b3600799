# CurveZMQ security (keygen, allow-lists, ZAP refusals, plaintext vs CURVE): an integration test
# with a real redis-server, coordinator, null workers and the CLI. Included by
# tests/farm/CMakeLists.txt. farm_png_check comes from edge.cmake (included after this file;
# $<TARGET_FILE> is resolved at generation time).
if(TARGET strike-coordinator AND TARGET strike-worker AND TARGET strike)
  add_test(NAME farm_curve COMMAND bash ${STRIKE_FARM_TEST_DIR}/test_farm_curve.sh)
  set_tests_properties(farm_curve PROPERTIES
    LABELS "farm;curve;integration"
    SKIP_RETURN_CODE 77
    RESOURCE_LOCK strike_farm
    TIMEOUT 300
    ENVIRONMENT "STRIKE_BIN_DIR=${CMAKE_BINARY_DIR};REDIS_SERVER=${STRIKE_REDIS_SERVER};STRIKE_PNG_CHECK=$<TARGET_FILE:farm_png_check>")
endif()

# common/sf_curve.c on real files: key file formats, errors with file and line, allow-lists.
if(TARGET strike_common)
  add_executable(farm_curve_keys ${STRIKE_FARM_TEST_DIR}/test_curve_keys.c)
  target_link_libraries(farm_curve_keys PRIVATE strike_common)
  target_include_directories(farm_curve_keys PRIVATE ${CMAKE_SOURCE_DIR}/tests/engine)
  add_test(NAME farm_curve_keys COMMAND farm_curve_keys)
  set_tests_properties(farm_curve_keys PROPERTIES SKIP_RETURN_CODE 77 LABELS "farm;curve;common")
endif()
