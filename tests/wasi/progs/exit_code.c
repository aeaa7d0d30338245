/* exit_code.c MODE — how a command ends: return from main, exit(), _Exit,
 * raw proc_exit, abort() and other traps. Output flushed before the end is
 * seen; what stdio still buffers when a trap hits is lost, as natively. */
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

static volatile int *volatile wild = (int *)0xfffffff0u;

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "none";
  printf("mode: %s\n", m);
  if (!strcmp(m, "return0")) return 0;
  if (!strcmp(m, "return7")) return 7;
  if (!strcmp(m, "exit3")) {
    printf("buffered text is flushed by exit\n");
    exit(3);
  }
  if (!strcmp(m, "_Exit5")) {
    fflush(stdout);
    printf("not flushed by _Exit\n");
    _Exit(5);
  }
  if (!strcmp(m, "proc_exit42")) {
    fflush(stdout);
    __wasi_proc_exit(42);
  }
  if (!strcmp(m, "abort")) {
    fflush(stdout);
    printf("lost: still in the stdio buffer at the trap\n");
    abort();
  }
  if (!strcmp(m, "unreachable")) {
    fflush(stdout);
    __builtin_trap();
  }
  if (!strcmp(m, "oob")) {
    fflush(stdout);
    return *wild;
  }
  if (!strcmp(m, "stderr")) {
    fprintf(stderr, "to stderr\n");
    return 0;
  }
  printf("unknown mode\n");
  return 1;
}
