/*
 * rng_philox.h - "philox" noise: the algorithm of AUTOMATIC1111's modules/rng_philox.py (also
 * stable-diffusion.cpp's --rng cuda), which models torch.randn on a CUDA device.
 *
 * Element i of the call with offset o is Philox4x32-10 with key = the 64-bit seed (low word
 * first) and counter = [o, 0, i, 0]; the first two output words x, y go through Box-Muller:
 * u = x 2^-32 + 2^-33, v = y (2^-32 2pi) + half of that, out = sqrt(-2 ln u) sin v, evaluated in
 * double and rounded to float (as the numpy reference does). See docs/sampler.md for how this
 * relates to torch's CUDA kernel (launch configuration, curand's float Box-Muller).
 */
#ifndef STRIKE_SAMPLE_RNG_PHILOX_H
#define STRIKE_SAMPLE_RNG_PHILOX_H

#include <stddef.h>
#include <stdint.h>

/* One Philox4x32-10 block: ctr (4 words) and key (2 words) in, 4 words out. */
void se_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* out[0..n) = A1111's Generator(seed) randn with the generator's call offset `offset`
 * (0 for the first randn of a fresh generator). n must be <= 2^32. */
void se_philox_randn(uint64_t seed, uint32_t offset, float *out, size_t n);

#endif
