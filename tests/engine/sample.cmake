# Sampler: schedule and Euler steps against diffusers; noise generators against torch.randn
# (CPU) and the A1111 philox algorithm; VAE decoder against diffusers' AutoencoderKL.
strike_engine_test(NAME engine_sampler SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sampler.c)
strike_engine_test(NAME engine_rng SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_rng.c)
strike_engine_test(NAME engine_vae SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vae.c)
strike_engine_test(NAME engine_vae_cuda SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vae.c ARGS cuda LABELS cuda)
