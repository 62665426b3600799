# Engine core: status codes, tensors, dtype conversions.
strike_engine_test(NAME engine_core SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_core.c)
