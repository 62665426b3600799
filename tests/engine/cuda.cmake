# CUDA backend: its own device checks (skipped with "SKIPPED: no CUDA device: <reason>" when the
# machine has none). engine_backend_ops compares every CUDA op with the CPU reference.
strike_engine_test(NAME engine_cuda_device SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_device.c
  LABELS cuda)
