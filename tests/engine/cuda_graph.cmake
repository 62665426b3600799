# CUDA graphs in the pipeline (engine/src/pipeline/unet_graph.c) and random weights made on the
# device (engine/src/cuda/random_fill.cu, io/weights.h's generator hook).

# CPU: the generator (Philox known answers, distribution) and the weights hook; --cuda: the
# kernel against the host evaluation, bit for bit (skipped without a device).
strike_engine_test(NAME engine_random_fill SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_random_fill.c)
add_test(NAME engine_cuda_random_fill COMMAND engine_random_fill --cuda)
set_tests_properties(engine_cuda_random_fill PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine;cuda")

# The UNet step graph cache: CPU, the LRU, STRIKE_CUDA_GRAPH and the capture/replay/fallback state
# machine inside the real pipeline with stand-in capture calls; --cuda, the fixture cases with
# graphs on and off (identical bytes, both against the reference), two batch sizes, eviction.
strike_engine_test(NAME engine_unet_graph SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_unet_graph.c)
add_test(NAME engine_cuda_graph COMMAND engine_unet_graph --cuda)
set_tests_properties(engine_cuda_graph PROPERTIES SKIP_RETURN_CODE 77 LABELS "engine;cuda")
