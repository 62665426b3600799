# CUDA backend: its own device checks (skipped with "SKIPPED: no CUDA device: <reason>" when the
# machine has none). engine_backend_ops compares every CUDA op with the CPU reference.
strike_engine_test(NAME engine_cuda_device SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_device.c
  LABELS cuda)

# The models on the tiny reference fixtures on CUDA (test_cuda_models.c): F32 relative error
# <= 1e-3, BF16 final 8-bit image PSNR >= 35 dB. One binary; skipped without a device.
add_executable(engine_cuda_models ${CMAKE_CURRENT_LIST_DIR}/test_cuda_models.c)
target_link_libraries(engine_cuda_models PRIVATE strike_engine m)
target_include_directories(engine_cuda_models PRIVATE ${STRIKE_ENGINE_SRC_DIR} ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(engine_cuda_models PRIVATE STRIKE_FIXTURES_DIR="${STRIKE_FIXTURES_DIR}")
set(STRIKE_CUDA_MODEL_TESTS
  "unet_tiny_f32:unet tiny f32" "unet_b2_nonsquare_f32:unet b2_nonsquare f32"
  "unet_convproj_bf16_f32:unet convproj_bf16 f32" "unet_tiny_bf16:unet tiny bf16"
  "unet_b2_nonsquare_bf16:unet b2_nonsquare bf16"
  "clip:clip" "vae_bf16:vae"
  "pipeline_e4_f32:pipeline e4 f32" "pipeline_e2_f32:pipeline e2 f32"
  "pipeline_s1_f32:pipeline s1 f32" "pipeline_nonsquare_f32:pipeline nonsquare f32"
  "pipeline_batch2_f32:pipeline batch2 f32" "pipeline_latents_f32:pipeline latents f32"
  "pipeline_philox_f32:pipeline philox f32"
  "pipeline_e4_bf16:pipeline e4 bf16" "pipeline_e8_bf16:pipeline e8 bf16"
  "pipeline_nonsquare_bf16:pipeline nonsquare bf16" "pipeline_batch2_bf16:pipeline batch2 bf16")
foreach(t ${STRIKE_CUDA_MODEL_TESTS})
  string(FIND "${t}" ":" colon)
  string(SUBSTRING "${t}" 0 ${colon} tname)
  math(EXPR colon "${colon} + 1")
  string(SUBSTRING "${t}" ${colon} -1 targs)
  separate_arguments(targs UNIX_COMMAND "${targs}")
  add_test(NAME engine_cuda_${tname} COMMAND engine_cuda_models ${targs})
  set_tests_properties(engine_cuda_${tname} PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine;cuda")
endforeach()

# The harness itself on the CPU backend (F32), so its fixture reading and comparisons are
# checked on machines without a GPU too.
foreach(t "unet:unet tiny f32" "clip:clip" "pipeline:pipeline e4 f32")
  string(FIND "${t}" ":" colon)
  string(SUBSTRING "${t}" 0 ${colon} tname)
  math(EXPR colon "${colon} + 1")
  string(SUBSTRING "${t}" ${colon} -1 targs)
  separate_arguments(targs UNIX_COMMAND "${targs}")
  add_test(NAME engine_cuda_models_harness_${tname} COMMAND engine_cuda_models ${targs} --cpu)
  set_tests_properties(engine_cuda_models_harness_${tname} PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")
endforeach()

# The conv weight cache's bookkeeping (engine/src/cuda/wcache.h, plain C): no GPU needed.
strike_engine_test(NAME engine_cuda_wcache SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_wcache.c)

# The philox noise mode against real torch CUDA randn (bench/gpu_philox.py writes it on the GPU
# machine; bench/gpu.sh runs `engine_cuda_philox_selftest DIR`). As a ctest: the comparison
# checked against the engine's own noise, exact and perturbed (no GPU needed).
strike_engine_test(NAME engine_cuda_philox_selftest SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_philox.c
  ARGS --self-test)

# The 8-wide memory-bound path (engine/src/cuda/vec8.cuh) run on the host: needs nvcc, no GPU.
if(STRIKE_HAVE_CUDA)
  strike_engine_test(NAME engine_cuda_vec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_vec.cu)
  set_target_properties(engine_cuda_vec PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
  if(STRIKE_WERROR)
    target_compile_options(engine_cuda_vec PRIVATE
      "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter;-Werror=all-warnings>")
  endif()
endif()

# The GPU benchmark (bench/gpu_bench.c, run by bench/gpu.sh): built with the tests because it
# needs the engine's internal headers; not a test.
if(STRIKE_HAVE_CUDA)
  add_executable(strike_gpu_bench ${CMAKE_SOURCE_DIR}/bench/gpu_bench.c)
  target_link_libraries(strike_gpu_bench PRIVATE strike_engine)
  target_include_directories(strike_gpu_bench PRIVATE ${STRIKE_ENGINE_SRC_DIR})
  target_compile_definitions(strike_gpu_bench PRIVATE STRIKE_FIXTURES_DIR="${STRIKE_FIXTURES_DIR}")
endif()
