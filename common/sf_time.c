/* sf_time.c - monotonic and wall clocks (see sf_time.h). */
#include "sf_time.h"
#include <time.h>

uint64_t sf_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t sf_now_ms(void) { return sf_now_us() / 1000u; }

uint64_t sf_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
