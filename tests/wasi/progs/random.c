/* random.c — getentropy, arc4random and raw random_get: only properties of
 * the bytes are printed. */
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  unsigned char a[32], b[32];
  memset(a, 0, sizeof a);
  res("getentropy 32", getentropy(a, sizeof a));
  int nz = 0;
  for (size_t i = 0; i < sizeof a; i++) nz |= a[i];
  printf("not all zero: %s\n", yn(nz));
  res("getentropy 32 again", getentropy(b, sizeof b));
  printf("two draws differ: %s\n", yn(memcmp(a, b, sizeof a) != 0));
  res("getentropy 257 (over the limit)", getentropy(a, 257));
  res("getentropy 0", getentropy(a, 0));
  arc4random_buf(a, sizeof a);
  arc4random_buf(b, sizeof b);
  printf("arc4random_buf draws differ: %s\n", yn(memcmp(a, b, sizeof a) != 0));
  int in_range = 1;
  for (int i = 0; i < 1000; i++) in_range &= arc4random_uniform(10) < 10;
  printf("arc4random_uniform(10) < 10: %s\n", yn(in_range));

  enum { N = 1 << 17 };
  unsigned char *big = malloc(N);
  wres("random_get 128 KiB", __wasi_random_get(big, N));
  int seen[256] = {0}, distinct = 0;
  for (int i = 0; i < N; i++) seen[big[i]]++;
  for (int i = 0; i < 256; i++) distinct += seen[i] > 0;
  /* Each value is expected 512 times; 300..724 is > 9 sigma either way. */
  int even = 1;
  for (int i = 0; i < 256; i++) even &= seen[i] > 300 && seen[i] < 724;
  printf("all 256 byte values seen: %s\n", yn(distinct == 256));
  printf("distribution plausible: %s\n", yn(even));
  wres("random_get 0 bytes", __wasi_random_get(big, 0));
  return 0;
}
