# se_model_check: a model checked without loading its weights (engine/src/pipeline/model_check.c).
strike_engine_test(NAME engine_model_check SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_model_check.c)
# the public model-spec calls (strike/engine.h "Model specs"), as the worker and strike-render use them
strike_engine_test(NAME engine_specs_api SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_specs_api.c)
