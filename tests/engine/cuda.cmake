# CUDA backend: its own device checks (skipped with "SKIPPED: no CUDA device: <reason>" when the
# machine has none). engine_backend_ops compares every CUDA op with the CPU reference.
strike_engine_test(NAME engine_cuda_device SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_device.c
  LABELS cuda)

# The GPU benchmark (bench/gpu_bench.c, run by bench/gpu.sh): built with the tests because it
# needs the engine's internal headers; not a test.
if(STRIKE_HAVE_CUDA)
  add_executable(strike_gpu_bench ${CMAKE_SOURCE_DIR}/bench/gpu_bench.c)
  target_link_libraries(strike_gpu_bench PRIVATE strike_engine)
  target_include_directories(strike_gpu_bench PRIVATE ${STRIKE_ENGINE_SRC_DIR})
  target_compile_definitions(strike_gpu_bench PRIVATE STRIKE_FIXTURES_DIR="${STRIKE_FIXTURES_DIR}")
endif()
