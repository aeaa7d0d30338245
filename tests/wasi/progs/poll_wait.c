/* poll_wait.c — poll on a real pipe. The harness keeps stdin (a pipe) empty
 * until it has read the first line, then writes "late\n": the first poll
 * must time out with nothing ready, the second must see the data. */
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  struct pollfd p = {0, POLLIN, 0};
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int n = poll(&p, 1, 100);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long long ms = (b.tv_sec - a.tv_sec) * 1000LL + (b.tv_nsec - a.tv_nsec) / 1000000;
  printf("first poll: %d, waited >= 100 ms: %s\n", n, yn(ms >= 99));
  fflush(stdout);
  p.revents = 0;
  n = poll(&p, 1, 20000);
  printf("second poll: %d, readable: %s\n", n, yn(p.revents & POLLIN));
  char buf[16] = "";
  ssize_t r = read(0, buf, sizeof buf - 1);
  printf("read: %zd \"%.4s\"\n", r, buf);
  r = read(0, buf, sizeof buf - 1);
  printf("read at eof: %zd\n", r);
  return 0;
}
