/* clocks.c — clock_gettime (realtime, monotonic, process/thread CPU time),
 * clock_getres, time(), gettimeofday, and pure-libc time formatting. */
#include <sys/time.h>
#include <time.h>

#include "common.h"

static long long ns(const struct timespec *t) { return t->tv_sec * 1000000000LL + t->tv_nsec; }

int main(void) {
  struct timespec a, b, r;
  res("clock_gettime realtime", clock_gettime(CLOCK_REALTIME, &a));
  printf("realtime after 2023: %s\n", yn(a.tv_sec > 1672531200));
  printf("realtime before 2100: %s\n", yn(a.tv_sec < 4102444800LL));
  printf("realtime nsec in range: %s\n", yn(a.tv_nsec >= 0 && a.tv_nsec < 1000000000));
  res("clock_gettime monotonic", clock_gettime(CLOCK_MONOTONIC, &a));
  int nondecreasing = 1;
  for (int i = 0; i < 1000; i++) {
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (ns(&b) < ns(&a)) nondecreasing = 0;
    a = b;
  }
  printf("monotonic never goes back: %s\n", yn(nondecreasing));
  clock_gettime(CLOCK_MONOTONIC, &a);
  struct timespec req = {0, 20000000};
  nanosleep(&req, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long long d = ns(&b) - ns(&a);
  printf("monotonic increases across a 20 ms sleep by >= 20 ms: %s\n", yn(d >= 20000000));
  printf("and by < 10 s: %s\n", yn(d < 10000000000LL));
  res("clock_getres realtime", clock_getres(CLOCK_REALTIME, &r));
  printf("realtime resolution in (0, 1 s]: %s\n", yn(ns(&r) > 0 && ns(&r) <= 1000000000));
  res("clock_getres monotonic", clock_getres(CLOCK_MONOTONIC, &r));
  printf("monotonic resolution in (0, 1 s]: %s\n", yn(ns(&r) > 0 && ns(&r) <= 1000000000));

  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  time_t t = time(NULL);
  printf("time() agrees with realtime: %s\n", yn(t >= rt.tv_sec - 1 && t <= rt.tv_sec + 2));
  struct timeval tv;
  res("gettimeofday", gettimeofday(&tv, NULL));
  printf("gettimeofday agrees: %s\n", yn(tv.tv_sec >= rt.tv_sec - 1 && tv.tv_sec <= rt.tv_sec + 2));

  /* Process and thread CPU clocks through the raw API (libc hides them
   * behind an emulation flag). */
  __wasi_timestamp_t ts = 0, res_ = 0;
  wres("raw process cputime", __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &ts));
  wres("raw process cputime res", __wasi_clock_res_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, &res_));
  wres("raw thread cputime", __wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &ts));
  wres("raw bad clock id", __wasi_clock_time_get(99, 1, &ts));
  wres("raw bad clock id res", __wasi_clock_res_get(99, &res_));

  /* Pure libc, a fixed instant: must not depend on the host's TZ. */
  time_t fixed = 1234567890;
  struct tm *g = gmtime(&fixed);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", g);
  printf("gmtime 1234567890: %s\n", buf);
  return 0;
}
