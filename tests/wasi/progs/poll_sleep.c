/* poll_sleep.c — nanosleep, clock_nanosleep (relative and absolute),
 * usleep, sched_yield, poll on stdin/stdout. The runner gives stdin as a
 * file holding "ping\n". */
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static long long now_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
  long long t0 = now_ns(CLOCK_MONOTONIC);
  struct timespec req = {0, 30000000};
  res("nanosleep 30 ms", nanosleep(&req, NULL));
  long long d = now_ns(CLOCK_MONOTONIC) - t0;
  printf("slept >= 30 ms: %s\n", yn(d >= 30000000));
  printf("slept < 5 s: %s\n", yn(d < 5000000000LL));

  t0 = now_ns(CLOCK_MONOTONIC);
  printf("clock_nanosleep relative: %d\n", clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL));
  printf("relative slept >= 30 ms: %s\n", yn(now_ns(CLOCK_MONOTONIC) - t0 >= 30000000));

  long long target = now_ns(CLOCK_REALTIME) + 30000000;
  struct timespec abs_ = {target / 1000000000, target % 1000000000};
  printf("clock_nanosleep absolute: %d\n",
         clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs_, NULL));
  printf("woke at or after the deadline: %s\n", yn(now_ns(CLOCK_REALTIME) >= target - 1000000));

  t0 = now_ns(CLOCK_MONOTONIC);
  res("usleep 10 ms", usleep(10000));
  printf("usleep slept >= 10 ms: %s\n", yn(now_ns(CLOCK_MONOTONIC) - t0 >= 10000000));
  res("sched_yield", sched_yield());

  fflush(stdout);
  struct pollfd p[2] = {{0, POLLIN, 0}, {1, POLLOUT, 0}};
  int n = poll(p, 2, 5000);
  if (n < 0) printf("poll stdin+stdout: %s\n", ename(errno));
  else printf("poll stdin+stdout: %d\n", n);
  printf("stdin readable: %s\n", yn(p[0].revents & POLLIN));
  printf("stdout writable: %s\n", yn(p[1].revents & POLLOUT));
  char buf[16] = "";
  ssize_t r = read(0, buf, sizeof buf - 1);
  printf("read stdin: %zd \"%.4s\"\n", r, buf);

  t0 = now_ns(CLOCK_MONOTONIC);
  n = poll(NULL, 0, 30);
  printf("poll with no fds, 30 ms: %d\n", n);
  printf("poll waited >= 30 ms: %s\n", yn(now_ns(CLOCK_MONOTONIC) - t0 >= 30000000));

  /* Raw poll_oneoff: a clock subscription plus fd_write on stdout. */
  __wasi_subscription_t subs[2];
  memset(subs, 0, sizeof subs);
  subs[0].userdata = 11;
  subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
  subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
  subs[0].u.u.clock.timeout = 10000000;
  subs[1].userdata = 22;
  subs[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
  subs[1].u.u.fd_write.file_descriptor = 1;
  __wasi_event_t ev[2];
  __wasi_size_t nev = 0;
  wres("poll_oneoff clock+stdout", __wasi_poll_oneoff(subs, ev, 2, &nev));
  int saw_write = 0;
  for (__wasi_size_t i = 0; i < nev; i++)
    if (ev[i].userdata == 22 && ev[i].type == __WASI_EVENTTYPE_FD_WRITE && !ev[i].error)
      saw_write = 1;
  printf("stdout write event: %s\n", yn(saw_write));
  t0 = now_ns(CLOCK_MONOTONIC);
  wres("poll_oneoff clock only", __wasi_poll_oneoff(subs, ev, 1, &nev));
  printf("one clock event, userdata 11: %s\n",
         yn(nev == 1 && ev[0].userdata == 11 && ev[0].type == __WASI_EVENTTYPE_CLOCK));
  printf("waited >= 10 ms: %s\n", yn(now_ns(CLOCK_MONOTONIC) - t0 >= 10000000));
  subs[1].u.u.fd_write.file_descriptor = 99;
  wres("poll_oneoff on a bad fd", __wasi_poll_oneoff(subs + 1, ev, 1, &nev));
  printf("bad fd event error: %s\n", nev == 1 ? ename(ev[0].error) : "no event");
  return 0;
}
