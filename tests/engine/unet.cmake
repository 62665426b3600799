# safetensors reader, weight sets, config.json getters, and the SDXL UNet against diffusers.
strike_engine_test(NAME engine_safetensors SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c)

# The UNet against diffusers fixtures (tests/reference/make_unet_fixtures.py): one binary; each
# case runs on the fast CPU path and on the naive reference loops, plus the error cases.
strike_engine_test(NAME engine_unet_tiny SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_unet.c
                   ARGS tiny fast)
foreach(t tiny:naive b2_nonsquare:fast b2_nonsquare:naive convproj_bf16:fast convproj_bf16:naive)
  string(REPLACE ":" ";" parts ${t})
  list(GET parts 0 case)
  list(GET parts 1 mode)
  set(name engine_unet_${case})
  if(mode STREQUAL "naive")
    set(name ${name}_naive)
  endif()
  add_test(NAME ${name} COMMAND engine_unet_tiny ${case} ${mode})
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")
endforeach()
add_test(NAME engine_unet_errors COMMAND engine_unet_tiny errors)
set_tests_properties(engine_unet_errors PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")

# The CPU UNet benchmark tool (run by bench/engine_cpu.sh; built here so it always compiles).
add_executable(bench_engine_unet ${PROJECT_SOURCE_DIR}/bench/engine_cpu.c)
target_link_libraries(bench_engine_unet PRIVATE strike_engine)
target_include_directories(bench_engine_unet PRIVATE ${STRIKE_ENGINE_SRC_DIR})
add_test(NAME engine_unet_random COMMAND engine_unet_tiny random)
set_tests_properties(engine_unet_random PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")
# The same weights from one file: SGM / ComfyUI names (all-in-one style) and diffusers names.
add_test(NAME engine_unet_b2_nonsquare_sgm COMMAND engine_unet_tiny b2_nonsquare single sgm)
add_test(NAME engine_unet_tiny_single COMMAND engine_unet_tiny tiny single diffusers)
set_tests_properties(engine_unet_b2_nonsquare_sgm engine_unet_tiny_single PROPERTIES
                     SKIP_RETURN_CODE 77 LABELS "engine")
