# Tests of the coordinator's /metrics endpoint and dashboard (coordinator/http.c, metrics.c):
# a real farm (redis-server, coordinator with --metrics-listen, null workers, CLI) scraped with
# tests/farm/http_peer.c (a small HTTP client, idle-connection holder and Prometheus text format
# checker). Included by tests/farm/CMakeLists.txt.
add_executable(farm_http_peer ${STRIKE_FARM_TEST_DIR}/http_peer.c)
if(TARGET strike-coordinator AND TARGET strike-worker AND TARGET strike)
  add_test(NAME farm_metrics COMMAND bash ${STRIKE_FARM_TEST_DIR}/test_farm_metrics.sh)
  set_tests_properties(farm_metrics PROPERTIES
    LABELS "farm;integration"
    RESOURCE_LOCK strike_farm
    TIMEOUT 300
    ENVIRONMENT "STRIKE_BIN_DIR=${CMAKE_BINARY_DIR};REDIS_SERVER=${STRIKE_REDIS_SERVER};STRIKE_HTTP_PEER=$<TARGET_FILE:farm_http_peer>")
  set_property(TEST farm_metrics APPEND PROPERTY DEPENDS farm_http_peer)
  # CURVE refusals in /metrics (skipped, 77, on a libzmq without CURVE)
  add_test(NAME farm_metrics_auth COMMAND bash ${STRIKE_FARM_TEST_DIR}/test_farm_metrics_auth.sh)
  set_tests_properties(farm_metrics_auth PROPERTIES
    LABELS "farm;curve;integration"
    SKIP_RETURN_CODE 77
    RESOURCE_LOCK strike_farm
    TIMEOUT 300
    ENVIRONMENT "STRIKE_BIN_DIR=${CMAKE_BINARY_DIR};REDIS_SERVER=${STRIKE_REDIS_SERVER};STRIKE_HTTP_PEER=$<TARGET_FILE:farm_http_peer>")
endif()

# coordinator/http.c alone: partial writes, request parsing, limits (real TCP sockets).
if(TARGET strike_coord_core)
  add_executable(farm_http_server ${STRIKE_FARM_TEST_DIR}/test_http_server.c)
  target_link_libraries(farm_http_server PRIVATE strike_coord_core)
  target_include_directories(farm_http_server PRIVATE ${CMAKE_SOURCE_DIR}/tests/engine)
  add_test(NAME farm_http_server COMMAND farm_http_server)
  set_tests_properties(farm_http_server PROPERTIES LABELS "farm;coordinator" TIMEOUT 120)
endif()
