/* esc_chain.c — symlink chains. The host plants
 *   chain1 -> chain2, chain2 -> sub/chain3, sub/chain3 -> ../../outside/secret.txt
 * (the last hop escapes); the module builds inside-only chains, loops and a
 * chain longer than the 40-link limit itself. */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  const __wasi_lookupflags_t F = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  try_read("chain1 (escapes at the third hop)", PREOPEN, F, "chain1");
  try_read("chain2", PREOPEN, F, "chain2");
  res("chdir /sandbox", chdir("/sandbox"));
  res("symlink in1 -> in2", symlink("in2", "in1"));
  res("symlink in2 -> sub/in3", symlink("sub/in3", "in2"));
  res("symlink sub/in3 -> ../inside.txt", symlink("../inside.txt", "sub/in3"));
  try_read("in1 (inside chain)", PREOPEN, F, "in1");
  res("symlink loopA -> loopB", symlink("loopB", "loopA"));
  res("symlink loopB -> loopA", symlink("loopA", "loopB"));
  try_read("loopA", PREOPEN, F, "loopA");
  res("symlink self -> self", symlink("self", "self"));
  try_read("self", PREOPEN, F, "self");
  /* L0 -> L1 -> ... -> L44 -> inside.txt: 45 links. */
  char a[16], b[16];
  int ok = 1;
  for (int i = 0; i < 45; i++) {
    snprintf(a, sizeof a, "L%d", i);
    snprintf(b, sizeof b, "L%d", i + 1);
    ok &= symlink(i == 44 ? "inside.txt" : b, a) == 0;
  }
  printf("45-link chain made: %s\n", yn(ok));
  try_read("L0 (45 links)", PREOPEN, F, "L0");
  try_read("L15 (30 links)", PREOPEN, F, "L15");
  res("symlink dl -> sub", symlink("sub", "dl"));
  try_read("dl/../inside.txt", PREOPEN, F, "dl/../inside.txt");
  try_read("dl/../../outside/secret.txt", PREOPEN, F, "dl/../../outside/secret.txt");
  return 0;
}
