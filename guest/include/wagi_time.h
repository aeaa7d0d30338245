/* wagi_time.h — the wall clock and the date formats HTTP and Azure use, for
 * C modules (wasm32-wasi), also buildable natively.
 *
 * Times are Unix times (seconds or milliseconds since 1970-01-01T00:00:00Z,
 * no leap seconds), as int64_t. The formatters write into a caller's
 * buffer of the size given by the *_SIZE macro (NUL included) and never
 * allocate. Everything returns WAGI_TIME_OK (0) or a WAGI_TIME_ERR_* code;
 * *out is written only on success.
 *
 *   char date[WAGI_TIME_RFC1123_SIZE];
 *   int64_t now;
 *   if (wagi_time_now_ms(&now) == WAGI_TIME_OK &&
 *       wagi_time_rfc1123(now / 1000, date) == WAGI_TIME_OK)
 *     ... "x-ms-date: Sun, 06 Nov 1994 08:49:37 GMT"
 */
#ifndef WAGI_TIME_H
#define WAGI_TIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WAGI_TIME_OK = 0,
  WAGI_TIME_ERR_ARG = 1,    /* NULL where a value is required */
  WAGI_TIME_ERR_CLOCK = 2,  /* the clock could not be read */
  WAGI_TIME_ERR_RANGE = 3,  /* a date outside years 0001..9999 */
  WAGI_TIME_ERR_SYNTAX = 4, /* a parser met text not in the format */
};

/* Static text for a WAGI_TIME_* code; never freed. */
const char *wagi_time_strerror(int code);

/* ---- The clock: clock_gettime(CLOCK_REALTIME), WASI's clock_time_get ---- */

/* Seconds and nanoseconds (0..999999999) since the epoch. */
int wagi_time_now(int64_t *sec, int32_t *nsec);
/* Milliseconds since the epoch (rounded down). */
int wagi_time_now_ms(int64_t *ms);

/* ---- Formatting; each covers 0001-01-01 to 9999-12-31 ---- */

/* RFC 1123 / RFC 9110 IMF-fixdate, the HTTP Date and x-ms-date format:
 * "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters). */
#define WAGI_TIME_RFC1123_SIZE 30
int wagi_time_rfc1123(int64_t unix_sec, char out[WAGI_TIME_RFC1123_SIZE]);

/* RFC 3339 / ISO 8601 UTC with milliseconds, as Event Grid's eventTime and
 * JavaScript's toISOString: "1994-11-06T08:49:37.123Z" (24 characters). */
#define WAGI_TIME_ISO8601_MS_SIZE 25
int wagi_time_iso8601_ms(int64_t unix_ms, char out[WAGI_TIME_ISO8601_MS_SIZE]);

/* The same to the second, as SAS expiry times (se=) use:
 * "1994-11-06T08:49:37Z" (20 characters). */
#define WAGI_TIME_ISO8601_SIZE 21
int wagi_time_iso8601(int64_t unix_sec, char out[WAGI_TIME_ISO8601_SIZE]);

/* ---- Parsing (exact formats; s need not be NUL-terminated) ---- */

/* "Sun, 06 Nov 1994 08:49:37 GMT" exactly (the weekday must match the
 * date). */
int wagi_time_parse_rfc1123(const char *s, size_t n, int64_t *unix_sec);

/* RFC 3339 date-time: "1994-11-06T08:49:37Z", with optional fraction of
 * any length (cut to milliseconds, rounding down) and "Z" or "+hh:mm" /
 * "-hh:mm"; 't' and 'z' in lowercase too (RFC 3339 §5.6). Second 60 (a
 * leap second) is taken as 59.999. */
int wagi_time_parse_rfc3339(const char *s, size_t n, int64_t *unix_ms);

#ifdef __cplusplus
}
#endif
#endif
