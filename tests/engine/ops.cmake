# Engine ops: every op on every backend against the naive CPU reference, and the arena.
strike_engine_test(NAME engine_backend_ops SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_backend_ops.c)
strike_engine_test(NAME engine_arena SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_arena.c)
