# safetensors reader, weight sets, config.json getters, and the SDXL UNet against diffusers.
strike_engine_test(NAME engine_safetensors SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c)
