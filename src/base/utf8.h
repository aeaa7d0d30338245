/* utf8.h — strict UTF-8 validation shared by the layers that check text
 * coming from modules or requests (header blocks, `_routes` output, ...).
 * Header-only: no dependencies, nothing to link. */
#ifndef WAGI_BASE_UTF8_H
#define WAGI_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length of the UTF-8 sequence that lead byte c starts (1 for ASCII, 0
 * for a byte that cannot start one), and the range [*lo, *hi] its second
 * byte must fall in: narrower than 80..BF where overlong forms, surrogates
 * or values above U+10FFFF would begin. Later bytes are always 80..BF. */
static inline size_t base_utf8_lead(uint8_t c, uint8_t *lo, uint8_t *hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) {
    if (c == 0xE0) *lo = 0xA0;
    if (c == 0xED) *hi = 0x9F;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (c == 0xF0) *lo = 0x90;
    if (c == 0xF4) *hi = 0x8F;
    return 4;
  }
  return 0;
}

/* Index just past the UTF-8 sequence that starts at s[i] (i < n), or 0 when
 * it is invalid: overlong forms, surrogates, values above U+10FFFF and
 * truncated sequences are all refused. */
static inline size_t base_utf8_next(const uint8_t *s, size_t n, size_t i) {
  uint8_t lo, hi;
  size_t len = base_utf8_lead(s[i], &lo, &hi);
  if (len <= 1) return len ? i + 1 : 0;
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
