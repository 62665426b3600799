# Model formats: SGM single-file checkpoints, LoRA merging, model specs
# (tests/reference/make_format_fixtures.py; fixtures in tests/fixtures/formats/).
strike_engine_test(NAME engine_formats_sgm SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_formats.c ARGS sgm)
foreach(style kohya_sgm kohya_diff peft)
  add_test(NAME engine_formats_lora_${style} COMMAND engine_formats_sgm lora ${style})
  set_tests_properties(engine_formats_lora_${style} PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")
endforeach()
add_test(NAME engine_formats_names COMMAND engine_formats_sgm names)
set_tests_properties(engine_formats_names PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")
add_test(NAME engine_formats_desc COMMAND engine_formats_sgm desc)
set_tests_properties(engine_formats_desc PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")
add_test(NAME engine_formats_errors COMMAND engine_formats_sgm errors)
set_tests_properties(engine_formats_errors PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine")

# Model specs (io/model_spec.h) and the shipped deploy/models.example.json.
strike_engine_test(NAME engine_formats_spec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_formats_spec.c)
target_compile_definitions(engine_formats_spec PRIVATE STRIKE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
