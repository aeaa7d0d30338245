/* clock.h — the one monotonic clock the host layers share (deadlines, the
 * runners' timers, per-request statistics). Header-only. */
#ifndef WAGI_BASE_CLOCK_H
#define WAGI_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on CLOCK_MONOTONIC: only differences mean anything. */
static inline uint64_t base_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
