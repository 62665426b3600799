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
