# se_model_check: a model checked without loading its weights (engine/src/pipeline/model_check.c).
strike_engine_test(NAME engine_model_check SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_model_check.c)
