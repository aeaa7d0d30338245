/* wagi_time.c — wall clock, RFC 1123 and RFC 3339 dates; see wagi_time.h.
 * Civil-date arithmetic is done here (Howard Hinnant's days_from_civil /
 * civil_from_days) instead of gmtime/timegm: no time zone state, no
 * dependence on time_t's width, and the same results in wasi-libc and
 * glibc. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime in glibc's <time.h> for native builds */
#include <string.h>
#include <time.h>

#include "wagi_time.h"

#define MIN_DAY (-719162) /* 0001-01-01 */
#define MAX_DAY 2932896   /* 9999-12-31 */

/* Weekdays counted from 1970-01-01, a Thursday. */
static const char WDAY[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char MON[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

const char *wagi_time_strerror(int code) {
  switch (code) {
  case WAGI_TIME_OK: return "success";
  case WAGI_TIME_ERR_ARG: return "invalid argument";
  case WAGI_TIME_ERR_CLOCK: return "the clock could not be read";
  case WAGI_TIME_ERR_RANGE: return "date outside years 0001..9999";
  case WAGI_TIME_ERR_SYNTAX: return "date not in the expected format";
  default: return "unknown error";
  }
}

int wagi_time_now(int64_t *sec, int32_t *nsec) {
  if (!sec || !nsec) return WAGI_TIME_ERR_ARG;
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_nsec < 0 || ts.tv_nsec > 999999999)
    return WAGI_TIME_ERR_CLOCK;
  *sec = (int64_t)ts.tv_sec;
  *nsec = (int32_t)ts.tv_nsec;
  return WAGI_TIME_OK;
}

int wagi_time_now_ms(int64_t *ms) {
  if (!ms) return WAGI_TIME_ERR_ARG;
  int64_t s;
  int32_t ns;
  int rc = wagi_time_now(&s, &ns);
  if (rc != WAGI_TIME_OK) return rc;
  if (s > INT64_MAX / 1000 - 1 || s < INT64_MIN / 1000 + 1) return WAGI_TIME_ERR_RANGE;
  *ms = s * 1000 + ns / 1000000;
  return WAGI_TIME_OK;
}

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m) {
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return dm[m - 1] + (m == 2 && leap);
}

typedef struct {
  int64_t day; /* since 1970-01-01 */
  int y, m, d, hh, mm, ss;
} civil;

static int split(int64_t unix_sec, civil *c) {
  c->day = floor_div(unix_sec, 86400);
  if (c->day < MIN_DAY || c->day > MAX_DAY) return WAGI_TIME_ERR_RANGE;
  int64_t sod = unix_sec - c->day * 86400;
  c->hh = (int)(sod / 3600), c->mm = (int)(sod / 60 % 60), c->ss = (int)(sod % 60);
  civil_from_days(c->day, &c->y, &c->m, &c->d);
  return WAGI_TIME_OK;
}

/* Writes v as exactly `digits` decimal digits. */
static char *put(char *o, int v, int digits) {
  for (int i = digits - 1; i >= 0; i--, v /= 10) o[i] = (char)('0' + v % 10);
  return o + digits;
}

int wagi_time_rfc1123(int64_t unix_sec, char out[WAGI_TIME_RFC1123_SIZE]) {
  if (!out) return WAGI_TIME_ERR_ARG;
  civil c;
  int rc = split(unix_sec, &c);
  if (rc != WAGI_TIME_OK) return rc;
  char *o = out;
  memcpy(o, WDAY[(int)(c.day - floor_div(c.day, 7) * 7)], 3), o += 3;
  *o++ = ',', *o++ = ' ';
  o = put(o, c.d, 2), *o++ = ' ';
  memcpy(o, MON[c.m - 1], 3), o += 3, *o++ = ' ';
  o = put(o, c.y, 4), *o++ = ' ';
  o = put(o, c.hh, 2), *o++ = ':', o = put(o, c.mm, 2), *o++ = ':', o = put(o, c.ss, 2);
  memcpy(o, " GMT", 5);
  return WAGI_TIME_OK;
}

static char *iso_seconds(char *o, const civil *c) {
  o = put(o, c->y, 4), *o++ = '-', o = put(o, c->m, 2), *o++ = '-', o = put(o, c->d, 2);
  *o++ = 'T';
  o = put(o, c->hh, 2), *o++ = ':', o = put(o, c->mm, 2), *o++ = ':', o = put(o, c->ss, 2);
  return o;
}

int wagi_time_iso8601_ms(int64_t unix_ms, char out[WAGI_TIME_ISO8601_MS_SIZE]) {
  if (!out) return WAGI_TIME_ERR_ARG;
  int64_t sec = floor_div(unix_ms, 1000);
  civil c;
  int rc = split(sec, &c);
  if (rc != WAGI_TIME_OK) return rc;
  char *o = iso_seconds(out, &c);
  *o++ = '.';
  o = put(o, (int)(unix_ms - sec * 1000), 3);
  memcpy(o, "Z", 2);
  return WAGI_TIME_OK;
}

int wagi_time_iso8601(int64_t unix_sec, char out[WAGI_TIME_ISO8601_SIZE]) {
  if (!out) return WAGI_TIME_ERR_ARG;
  civil c;
  int rc = split(unix_sec, &c);
  if (rc != WAGI_TIME_OK) return rc;
  memcpy(iso_seconds(out, &c), "Z", 2);
  return WAGI_TIME_OK;
}

/* Reads exactly `digits` decimal digits at s[*i]. */
static int num(const char *s, size_t n, size_t *i, int digits, int *v) {
  if (n - *i < (size_t)digits) return 0;
  int x = 0;
  for (int k = 0; k < digits; k++) {
    char c = s[*i + (size_t)k];
    if (c < '0' || c > '9') return 0;
    x = x * 10 + (c - '0');
  }
  *i += (size_t)digits;
  *v = x;
  return 1;
}

static int lit(const char *s, size_t n, size_t *i, const char *text) {
  size_t len = strlen(text);
  if (n - *i < len || memcmp(s + *i, text, len) != 0) return 0;
  *i += len;
  return 1;
}

static int valid_ymd_hms(int y, int m, int d, int hh, int mm, int ss, int max_ss) {
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m) && hh <= 23 &&
         mm <= 59 && ss <= max_ss;
}

int wagi_time_parse_rfc1123(const char *s, size_t n, int64_t *unix_sec) {
  if (!s || !unix_sec) return WAGI_TIME_ERR_ARG;
  size_t i = 0;
  int wd = -1, m = 0, d, y, hh, mm, ss;
  for (int k = 0; k < 7 && wd < 0; k++)
    if (n >= 3 && memcmp(s, WDAY[k], 3) == 0) wd = k;
  if (wd < 0) return WAGI_TIME_ERR_SYNTAX;
  i = 3;
  if (!lit(s, n, &i, ", ") || !num(s, n, &i, 2, &d) || !lit(s, n, &i, " "))
    return WAGI_TIME_ERR_SYNTAX;
  for (int k = 0; k < 12 && !m; k++)
    if (n - i >= 3 && memcmp(s + i, MON[k], 3) == 0) m = k + 1;
  if (!m) return WAGI_TIME_ERR_SYNTAX;
  i += 3;
  if (!lit(s, n, &i, " ") || !num(s, n, &i, 4, &y) || !lit(s, n, &i, " ") ||
      !num(s, n, &i, 2, &hh) || !lit(s, n, &i, ":") || !num(s, n, &i, 2, &mm) ||
      !lit(s, n, &i, ":") || !num(s, n, &i, 2, &ss) || !lit(s, n, &i, " GMT") || i != n)
    return WAGI_TIME_ERR_SYNTAX;
  if (!valid_ymd_hms(y, m, d, hh, mm, ss, 59)) return WAGI_TIME_ERR_SYNTAX;
  int64_t day = days_from_civil(y, m, d);
  if (day - floor_div(day, 7) * 7 != wd) return WAGI_TIME_ERR_SYNTAX;
  *unix_sec = day * 86400 + hh * 3600 + mm * 60 + ss;
  return WAGI_TIME_OK;
}

int wagi_time_parse_rfc3339(const char *s, size_t n, int64_t *unix_ms) {
  if (!s || !unix_ms) return WAGI_TIME_ERR_ARG;
  size_t i = 0;
  int y, m, d, hh, mm, ss, ms = 0;
  if (!num(s, n, &i, 4, &y) || !lit(s, n, &i, "-") || !num(s, n, &i, 2, &m) ||
      !lit(s, n, &i, "-") || !num(s, n, &i, 2, &d))
    return WAGI_TIME_ERR_SYNTAX;
  if (i >= n || (s[i] != 'T' && s[i] != 't')) return WAGI_TIME_ERR_SYNTAX;
  i++;
  if (!num(s, n, &i, 2, &hh) || !lit(s, n, &i, ":") || !num(s, n, &i, 2, &mm) ||
      !lit(s, n, &i, ":") || !num(s, n, &i, 2, &ss))
    return WAGI_TIME_ERR_SYNTAX;
  if (i < n && s[i] == '.') {
    i++;
    size_t start = i;
    for (int scale = 100; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
      ms += (s[i] - '0') * scale; /* scale reaches 0 after three digits */
    if (i == start) return WAGI_TIME_ERR_SYNTAX;
  }
  int off = 0;
  if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i < n && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1, oh, om;
    i++;
    if (!num(s, n, &i, 2, &oh) || !lit(s, n, &i, ":") || !num(s, n, &i, 2, &om) || oh > 23 ||
        om > 59)
      return WAGI_TIME_ERR_SYNTAX;
    off = sign * (oh * 60 + om);
  } else {
    return WAGI_TIME_ERR_SYNTAX;
  }
  if (i != n || !valid_ymd_hms(y, m, d, hh, mm, ss, 60)) return WAGI_TIME_ERR_SYNTAX;
  if (ss == 60) ss = 59, ms = 999;
  int64_t sec = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)off * 60;
  *unix_ms = sec * 1000 + ms;
  return WAGI_TIME_OK;
}
