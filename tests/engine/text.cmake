# Text path: CLIP tokenizer (against the reference ids), embedding cache, CLIP text encoders.
find_package(ZLIB REQUIRED)
strike_engine_test(NAME engine_tokenizer_reference SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_reference.c)
target_link_libraries(engine_tokenizer_reference PRIVATE ZLIB::ZLIB)
strike_engine_test(NAME engine_tokenizer_unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_unit.c)
strike_engine_test(NAME engine_clip_cache SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_clip_cache.c)
strike_engine_test(NAME engine_clip_reference SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_clip_reference.c)
