/* utf8.h — strict UTF-8 validation shared by the layers that check text
 * coming from modules or requests (header blocks, `_routes` output, ...).
 * Header-only: no dependencies, nothing to link. */
#ifndef WAGI_BASE_UTF8_H
#define WAGI_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Index just past the UTF-8 sequence that starts at s[i] (i < n), or 0 when
 * it is invalid: overlong forms, surrogates, values above U+10FFFF and
 * truncated sequences are all refused. */
static inline size_t base_utf8_next(const uint8_t *s, size_t n, size_t i) {
  uint8_t c = s[i];
  if (c < 0x80) return i + 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else return 0;
  if (n - i < len) return 0;
  if (s[i + 1] < lo || s[i + 1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if ((s[i + k] & 0xC0) != 0x80) return 0;
  return i + len;
}

/* True when s[0..n) is valid UTF-8; otherwise false, with the offset of the
 * first bad sequence in *bad_at (bad_at may be NULL). */
static inline bool base_utf8_valid(const uint8_t *s, size_t n, size_t *bad_at) {
  size_t i = 0;
  while (i < n) {
    size_t j = base_utf8_next(s, n, i);
    if (!j) {
      if (bad_at) *bad_at = i;
      return false;
    }
    i = j;
  }
  return true;
}

#endif
