# The whole pipeline (public API) against diffusers' StableDiffusionXLPipeline on a tiny random
# model (tests/fixtures/pipeline, made by tests/reference/make_pipeline_fixtures.py).
add_executable(test_pipeline ${CMAKE_CURRENT_LIST_DIR}/test_pipeline.c)
target_link_libraries(test_pipeline PRIVATE strike_engine m)
target_include_directories(test_pipeline PRIVATE ${CMAKE_CURRENT_LIST_DIR} ${STRIKE_ENGINE_SRC_DIR})
target_compile_definitions(test_pipeline PRIVATE STRIKE_FIXTURES_DIR="${STRIKE_FIXTURES_DIR}")
foreach(c e4 e2 e8 s1 nonsquare batch2 latents bigseed long philox sgm lora api)
  add_test(NAME engine_pipeline_${c} COMMAND test_pipeline ${c})
  set_tests_properties(engine_pipeline_${c} PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")
endforeach()
add_test(NAME engine_pipeline_e4_cuda COMMAND test_pipeline e4 cuda)
set_tests_properties(engine_pipeline_e4_cuda PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine;cuda")
# The random model generator (strike-render --make-tiny-model) and the safetensors writer.
strike_engine_test(NAME engine_pipeline_tiny_model SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipeline_tiny.c)
