/* flags.c — flag values shared by the server's flags (server_flags.c) and
 * `wagi run` (run.c), so that one spelling means the same in both. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "cli.h"

int wagi_cmd_parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (!*s || *s == '-') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s) return -1;
  uint64_t mul = 1;
  if (*end) {
    switch (*end) {
    case 'k':
    case 'K': mul = 1ull << 10; break;
    case 'm':
    case 'M': mul = 1ull << 20; break;
    case 'g':
    case 'G': mul = 1ull << 30; break;
    default: return -1;
    }
    end++;
    if (*end == 'i' && end[1] == 'B') end += 2;
    else if (*end == 'B') end++;
    if (*end) return -1;
  }
  if (v > UINT64_MAX / mul) return -1;
  *out = v * mul;
  return 0;
}

int wagi_cmd_parse_memory(const char *flag, const char *s, bool pages_hint, uint32_t *pages,
                          char *err, size_t errlen) {
  uint64_t b;
  if (wagi_cmd_parse_size(s, &b) == 0 && b >= 65536 && b <= (4ull << 30)) {
    *pages = (uint32_t)(b / 65536);
    return 0;
  }
  /* `wagi run --max-memory` used to count 64 KiB pages: a bare number too
   * small to be a size is most likely that. */
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (pages_hint && *s >= '0' && *s <= '9' && !*end && !errno && v >= 1 && v < 65536)
    base_set_err(err, errlen,
                 "%s %s: expected a size from 64K to 4G (bytes, or a number with K, M, G); a "
                 "bare number is bytes, not 64 KiB pages: for %llu pages write %lluK",
                 flag, s, v, v * 64);
  else
    base_set_err(err, errlen,
                 "%s %s: expected a size from 64K to 4G (bytes, or a number with K, M, G, e.g. "
                 "256M)",
                 flag, s);
  return -1;
}
