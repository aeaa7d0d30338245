/* mutate_text.h — the seeded text mutator shared by the TOML and config
 * robustness tests. Header-only, test code only. */
#ifndef WAGI_TEST_MUTATE_TEXT_H
#define WAGI_TEST_MUTATE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Applies one mutation to buf[0..*n) (capacity cap), driven by the xorshift
 * state *rs: overwrite a byte with a random byte (only when random_bytes)
 * or with one of the `ninteresting` characters of `interesting`, insert one
 * of them, delete a run of 1..max_del bytes, or truncate. */
static inline void mutate_text(char *buf, size_t *n, size_t cap, uint64_t *rs,
                               const char *interesting, size_t ninteresting, bool random_bytes,
                               unsigned max_del) {
  uint64_t r = *rs;
  r ^= r << 13, r ^= r >> 7, r ^= r << 17;
  *rs = r;
  size_t len = *n;
  size_t pos = (size_t)(r % (len + 1));
  char ch = interesting[(r >> 20) % ninteresting];
  unsigned kind = random_bytes ? (unsigned)((r >> 40) % 5) : 1 + (unsigned)((r >> 40) % 4);
  switch (kind) {
  case 0:
    if (pos < len) buf[pos] = (char)(r >> 32);
    break;
  case 1:
    if (pos < len) buf[pos] = ch;
    break;
  case 2:
    if (len + 1 < cap) {
      memmove(buf + pos + 1, buf + pos, len - pos);
      buf[pos] = ch;
      len++;
    }
    break;
  case 3:
    if (pos < len) {
      size_t l = 1 + (r >> 50) % max_del;
      if (pos + l > len) l = len - pos;
      memmove(buf + pos, buf + pos + l, len - pos - l);
      len -= l;
    }
    break;
  default: len = pos; break;
  }
  *n = len;
}

#endif
