/* test_time.c — guest/ clock and date formats, built natively (cmocka).
 * Known values: RFC 9110 §5.6.7's example date, the epoch, leap days,
 * the ends of the supported range (checked against Python's datetime). */
#define _DEFAULT_SOURCE /* gmtime_r */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "wagi_time.h"

static const struct {
  int64_t sec;
  const char *rfc1123, *iso;
} DATES[] = {
    {0, "Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00Z"},
    {784111777, "Sun, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37Z"},
    {951782400, "Tue, 29 Feb 2000 00:00:00 GMT", "2000-02-29T00:00:00Z"},
    {1709251199, "Thu, 29 Feb 2024 23:59:59 GMT", "2024-02-29T23:59:59Z"},
    {4107542400, "Mon, 01 Mar 2100 00:00:00 GMT", "2100-03-01T00:00:00Z"}, /* 2100: no Feb 29 */
    {-1, "Wed, 31 Dec 1969 23:59:59 GMT", "1969-12-31T23:59:59Z"},
    {-62135596800, "Mon, 01 Jan 0001 00:00:00 GMT", "0001-01-01T00:00:00Z"},
    {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT", "9999-12-31T23:59:59Z"},
};

static void format_known(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof DATES / sizeof *DATES; k++) {
    char a[WAGI_TIME_RFC1123_SIZE], b[WAGI_TIME_ISO8601_SIZE];
    assert_int_equal(wagi_time_rfc1123(DATES[k].sec, a), WAGI_TIME_OK);
    assert_string_equal(a, DATES[k].rfc1123);
    assert_int_equal(strlen(a), WAGI_TIME_RFC1123_SIZE - 1);
    assert_int_equal(wagi_time_iso8601(DATES[k].sec, b), WAGI_TIME_OK);
    assert_string_equal(b, DATES[k].iso);
    int64_t back;
    assert_int_equal(wagi_time_parse_rfc1123(a, strlen(a), &back), WAGI_TIME_OK);
    assert_int_equal(back, DATES[k].sec);
    assert_int_equal(wagi_time_parse_rfc3339(b, strlen(b), &back), WAGI_TIME_OK);
    assert_int_equal(back, DATES[k].sec * 1000);
  }
  char a[WAGI_TIME_RFC1123_SIZE];
  assert_int_equal(wagi_time_rfc1123(-62135596801, a), WAGI_TIME_ERR_RANGE);
  assert_int_equal(wagi_time_rfc1123(253402300800, a), WAGI_TIME_ERR_RANGE);
  assert_int_equal(wagi_time_rfc1123(INT64_MIN, a), WAGI_TIME_ERR_RANGE);
  assert_int_equal(wagi_time_rfc1123(INT64_MAX, a), WAGI_TIME_ERR_RANGE);
  assert_int_equal(wagi_time_rfc1123(0, NULL), WAGI_TIME_ERR_ARG);
}

static void format_ms(void **state) {
  (void)state;
  char b[WAGI_TIME_ISO8601_MS_SIZE];
  assert_int_equal(wagi_time_iso8601_ms(784111777123, b), 0);
  assert_string_equal(b, "1994-11-06T08:49:37.123Z");
  assert_int_equal(strlen(b), WAGI_TIME_ISO8601_MS_SIZE - 1);
  assert_int_equal(wagi_time_iso8601_ms(0, b), 0);
  assert_string_equal(b, "1970-01-01T00:00:00.000Z");
  assert_int_equal(wagi_time_iso8601_ms(-1, b), 0); /* floors, not truncates */
  assert_string_equal(b, "1969-12-31T23:59:59.999Z");
  assert_int_equal(wagi_time_iso8601_ms(253402300799999, b), 0);
  assert_string_equal(b, "9999-12-31T23:59:59.999Z");
  assert_int_equal(wagi_time_iso8601_ms(253402300800000, b), WAGI_TIME_ERR_RANGE);
  assert_int_equal(wagi_time_iso8601_ms(INT64_MIN, b), WAGI_TIME_ERR_RANGE);
}

/* Every day from 1900 to 2100 agrees with the C library's gmtime_r. */
static void format_matches_libc(void **state) {
  (void)state;
  static const char *wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int64_t t = -2208988800; t < 4102444800; t += 86400 + 3671) {
    time_t tt = (time_t)t;
    struct tm tm;
    assert_non_null(gmtime_r(&tt, &tm));
    char want[64], got[WAGI_TIME_RFC1123_SIZE];
    snprintf(want, sizeof want, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
             mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    assert_int_equal(wagi_time_rfc1123(t, got), 0);
    assert_string_equal(got, want);
  }
}

static void parse_rfc3339(void **state) {
  (void)state;
  static const struct {
    const char *in;
    int64_t ms;
  } ok[] = {
      {"1994-11-06T08:49:37Z", 784111777000},         {"1994-11-06T08:49:37.1Z", 784111777100},
      {"1994-11-06T08:49:37.12Z", 784111777120},      {"1994-11-06T08:49:37.123Z", 784111777123},
      {"1994-11-06T08:49:37.1239999Z", 784111777123}, /* Event Grid's 7 digits, cut */
      {"1994-11-06t08:49:37z", 784111777000},         {"1994-11-06T09:49:37+01:00", 784111777000},
      {"1994-11-06T03:19:37-05:30", 784111777000},    {"1994-11-06T08:49:37+00:00", 784111777000},
      {"1998-12-31T23:59:60Z", 915148799999}, /* leap second */
      {"2000-02-29T00:00:00Z", 951782400000},
  };
  for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
    int64_t ms = 0;
    int rc = wagi_time_parse_rfc3339(ok[k].in, strlen(ok[k].in), &ms);
    if (rc != 0 || ms != ok[k].ms) fail_msg("%s: rc %d ms %lld", ok[k].in, rc, (long long)ms);
  }
  static const char *bad[] = {
      "",
      "1994-11-06",
      "1994-11-06T08:49Z",
      "1994-11-06 08:49:37Z", /* space instead of T */
      "1994-11-06T08:49:37",  /* no zone */
      "1994-11-06T08:49:37.Z",
      "1994-11-06T08:49:37+0100",
      "1994-11-06T08:49:37+24:00",
      "1994-13-06T08:49:37Z",
      "1994-02-29T08:49:37Z", /* not a leap year */
      "1994-11-31T08:49:37Z",
      "1994-11-06T24:00:00Z",
      "1994-11-06T08:60:00Z",
      "1994-11-06T08:49:61Z",
      "1994-11-06T08:49:37Zjunk",
      "94-11-06T08:49:37Z",
      "0000-01-01T00:00:00Z",
      "+994-11-06T08:49:37Z",
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    int64_t ms = 42;
    if (wagi_time_parse_rfc3339(bad[k], strlen(bad[k]), &ms) != WAGI_TIME_ERR_SYNTAX)
      fail_msg("accepted %s", bad[k]);
    assert_int_equal(ms, 42);
  }
  int64_t ms;
  /* counted, not NUL-terminated */
  assert_int_equal(wagi_time_parse_rfc3339("1970-01-01T00:00:01Zxx", 20, &ms), 0);
  assert_int_equal(ms, 1000);
}

static void parse_rfc1123(void **state) {
  (void)state;
  static const char *bad[] = {
      "Sun, 06 Nov 1994 08:49:37 UTC",
      "Mon, 06 Nov 1994 08:49:37 GMT",  /* wrong weekday */
      "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
      "Sun Nov  6 08:49:37 1994",       /* asctime */
      "Sun, 6 Nov 1994 08:49:37 GMT",
      "Sun, 06 nov 1994 08:49:37 GMT",
      "Sun, 31 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 08:49:60 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMT ",
      "Sun, 06 Nov 1994 08:49:37 GM",
      "Su",
      "",
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    int64_t s = 42;
    if (wagi_time_parse_rfc1123(bad[k], strlen(bad[k]), &s) != WAGI_TIME_ERR_SYNTAX)
      fail_msg("accepted %s", bad[k]);
    assert_int_equal(s, 42);
  }
  assert_string_equal(wagi_time_strerror(WAGI_TIME_ERR_RANGE), "date outside years 0001..9999");
}

static void clock_now(void **state) {
  (void)state;
  int64_t s, ms;
  int32_t ns;
  assert_int_equal(wagi_time_now(&s, &ns), 0);
  assert_true(ns >= 0 && ns <= 999999999);
  time_t t = time(NULL);
  assert_true(s >= (int64_t)t - 2 && s <= (int64_t)t + 2);
  assert_int_equal(wagi_time_now_ms(&ms), 0);
  assert_true(ms / 1000 >= s && ms / 1000 <= s + 2);
  assert_int_equal(wagi_time_now(NULL, &ns), WAGI_TIME_ERR_ARG);
  assert_int_equal(wagi_time_now_ms(NULL), WAGI_TIME_ERR_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(format_known),        cmocka_unit_test(format_ms),
      cmocka_unit_test(format_matches_libc), cmocka_unit_test(parse_rfc3339),
      cmocka_unit_test(parse_rfc1123),       cmocka_unit_test(clock_now),
  };
  return cmocka_run_group_tests_name("guest_time", tests, NULL, NULL);
}
