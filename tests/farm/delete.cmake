# `strike delete` end to end (coordinator/subs.c sub_delete, cli/commands.c cli_delete): a real
# farm (redis-server, coordinator with --metrics-listen, null workers, CLI), Redis keys checked with
# redis-cli --scan, /metrics scraped with tests/farm/http_peer.c (target farm_http_peer, defined
# in metrics.cmake, which is included after this file).
# Included by tests/farm/CMakeLists.txt.
if(TARGET strike-coordinator AND TARGET strike-worker AND TARGET strike)
  add_test(NAME farm_delete COMMAND bash ${STRIKE_FARM_TEST_DIR}/test_farm_delete.sh)
  set_tests_properties(farm_delete PROPERTIES
    LABELS "farm;edge;integration"
    RESOURCE_LOCK strike_farm
    TIMEOUT 300
    ENVIRONMENT "STRIKE_BIN_DIR=${CMAKE_BINARY_DIR};REDIS_SERVER=${STRIKE_REDIS_SERVER};STRIKE_HTTP_PEER=$<TARGET_FILE:farm_http_peer>")
endif()

# finished-retention (coordinator/retention.c): automatic deletion of final submissions.
if(TARGET strike-coordinator AND TARGET strike-worker AND TARGET strike)
  add_test(NAME farm_retention COMMAND bash ${STRIKE_FARM_TEST_DIR}/test_farm_retention.sh)
  set_tests_properties(farm_retention PROPERTIES
    LABELS "farm;edge;integration"
    RESOURCE_LOCK strike_farm
    TIMEOUT 300
    ENVIRONMENT "STRIKE_BIN_DIR=${CMAKE_BINARY_DIR};REDIS_SERVER=${STRIKE_REDIS_SERVER}")
endif()
