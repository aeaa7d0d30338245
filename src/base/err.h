/* err.h — filling a caller's error buffer. Functions that can fail take
 * `char *err, size_t errlen` and write one complete sentence there;
 * either may be NULL/0 when the caller does not want the text. */
#ifndef WAGI_BASE_ERR_H
#define WAGI_BASE_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void base_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void base_set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

#endif
