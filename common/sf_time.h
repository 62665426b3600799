/* sf_time.h - clocks for the farm: monotonic milliseconds for deadlines and intervals, wall-clock
 * milliseconds for timestamps that are stored or shown. */
#ifndef STRIKE_SF_TIME_H
#define STRIKE_SF_TIME_H
#include <stdint.h>

/* Monotonic clock in milliseconds (never jumps; only differences are meaningful). */
uint64_t sf_now_ms(void);
/* Monotonic clock in microseconds. */
uint64_t sf_now_us(void);
/* Unix time in milliseconds (wall clock; stored in Redis and shown to people). */
uint64_t sf_wall_ms(void);

#endif
