/* sas.c — aeg-sas-token checks (eventgrid.h): "r=RESOURCE&e=EXPIRY&s=SIG",
 * each value URL-encoded, SIG = base64(HMAC-SHA256(base64-decode(key),
 * "r=RESOURCE&e=EXPIRY" exactly as sent)). EXPIRY is UTC, written
 * "M/D/YYYY h:mm:ss AM" by Azure's SDKs (an RFC 3339 date-time is accepted
 * too). The resource is not compared with this topic's URL: a local topic
 * has no fixed host name. */
#include "eventgrid.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int hexv(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* URL-decodes s[0..n) into out (at most cap-1 bytes, NUL-terminated);
 * '+' is a space. -1 on a bad escape or overflow. */
static int url_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= n) return -1;
      int h = hexv((unsigned char)s[i + 1]), l = h >= 0 ? hexv((unsigned char)s[i + 2]) : -1;
      if (l < 0) return -1;
      c = h * 16 + l;
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    if (o + 1 >= cap || c == 0) return -1;
    out[o++] = (char)c;
  }
  out[o] = 0;
  return 0;
}

/* The value of `name=` in the &-separated token, still encoded. */
static const char *param(const char *tok, const char *name, size_t *len) {
  size_t nl = strlen(name);
  for (const char *p = tok; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
    if (!strncmp(p, name, nl) && p[nl] == '=') {
      *len = strcspn(p + nl + 1, "&");
      return p + nl + 1;
    }
  }
  return NULL;
}

/* "M/D/YYYY h:mm:ss AM|PM" (UTC) or RFC 3339 into Unix seconds; -1 if neither. */
static long long parse_expiry(const char *s) {
  struct tm tm = {0};
  char ampm[3] = "";
  int mo, d, y, h, mi, se, n = 0;
  if (sscanf(s, "%d/%d/%d %d:%d:%d %2s%n", &mo, &d, &y, &h, &mi, &se, ampm, &n) == 7 && !s[n]) {
    if (h < 1 || h > 12) return -1;
    if (!strcasecmp(ampm, "PM")) h = h % 12 + 12;
    else if (!strcasecmp(ampm, "AM")) h = h % 12;
    else return -1;
  } else if (eg_is_rfc3339(s, strlen(s))) {
    if (sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6) return -1;
    /* an offset other than Z shifts the time */
    const char *z = s + strlen(s) - 6;
    long off = 0;
    if (*z == '+' || *z == '-')
      off = (*z == '-' ? -1 : 1) *
            ((z[1] - '0') * 600 + (z[2] - '0') * 60 + (z[4] - '0') * 10 + (z[5] - '0')) * 60;
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = se;
    return (long long)timegm(&tm) - off;
  } else {
    return -1;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1970 || mi > 59 || se > 60) return -1;
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
  tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = se;
  return (long long)timegm(&tm);
}

eg_sas_result eg_sas_check(const char *token, const char *key, long long now) {
  size_t klen = strlen(key);
  if (!klen || klen > 4096 || klen % 4) return EG_SAS_BAD_KEY;
  unsigned char kbin[3072 + 4];
  int kn = EVP_DecodeBlock(kbin, (const unsigned char *)key, (int)klen);
  if (kn < 0) return EG_SAS_BAD_KEY;
  kn -= (key[klen - 1] == '=') + (klen > 1 && key[klen - 2] == '=');
  const char *s = strstr(token, "&s=");
  size_t elen = 0, rlen = 0;
  const char *e = param(token, "e", &elen), *r = param(token, "r", &rlen);
  if (!s || !e || !r || strncmp(token, "r=", 2)) return EG_SAS_MALFORMED;
  char exp[128], sig[256];
  if (url_decode(e, elen, exp, sizeof exp) < 0 ||
      url_decode(s + 3, strlen(s + 3), sig, sizeof sig) < 0)
    return EG_SAS_MALFORMED;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned maclen = 0;
  if (!HMAC(EVP_sha256(), kbin, kn, (const unsigned char *)token, (size_t)(s - token), mac,
            &maclen))
    return EG_SAS_MALFORMED;
  char want[128];
  EVP_EncodeBlock((unsigned char *)want, mac, (int)maclen);
  size_t wl = strlen(want), sl = strlen(sig);
  unsigned char diff = wl != sl;
  for (size_t i = 0; i < wl; i++) diff |= (unsigned char)(want[i] ^ sig[i < sl ? i : 0]);
  if (diff) return EG_SAS_BAD_SIGNATURE;
  long long t = parse_expiry(exp);
  if (t < 0) return EG_SAS_MALFORMED;
  if (t <= now) return EG_SAS_EXPIRED;
  return EG_SAS_OK;
}
