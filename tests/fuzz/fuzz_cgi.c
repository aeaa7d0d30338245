/* fuzz_cgi.c — libFuzzer target for what turns a module's output into an
 * HTTP response (src/server/response.c, docs/modules.md §Output), and for
 * the --env-file parser of src/server/cgi.c.
 *
 * The input is a module's stdout, copied into a buffer of exactly its size
 * (so that ASan sees any read past it). The parsed response must be
 * sendable: a status in 100..999, header names that are HTTP tokens,
 * values of visible ASCII/SP/HTAB only, no framing headers (Content-Length,
 * Transfer-Encoding, Connection, Date, Status), Content-Type and Location
 * at most once, a body inside the output or a static text; a refused
 * output carries no module header. The same bytes also go through the
 * env-file parser, whose accepted variables must have non-empty names. */
#include <stdint.h>
#include <strings.h>

#include "fuzz_common.h"
#include "server/cgi.h"
#include "server/response.h"

static int is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_response(const srv_response *r, const uint8_t *out, size_t len) {
  FUZZ_CHECK(r->status >= 100 && r->status <= 999, "status %d", r->status);
  FUZZ_CHECK(r->body || r->body_len == 0, "body");
  if (r->body_len && !(r->body >= out && r->body + r->body_len <= out + len))
    FUZZ_CHECK(r->refused || r->status >= 500, "a body outside the output on status %d", r->status);
  if (r->refused) FUZZ_CHECK(r->n_headers == 0, "refused output with %zu headers", r->n_headers);
  int ct = 0, loc = 0;
  for (size_t i = 0; i < r->n_headers; i++) {
    const srv_resp_header *h = &r->headers[i];
    FUZZ_CHECK(h->name && h->name[0] && h->value, "header %zu", i);
    for (const char *p = h->name; *p; p++)
      FUZZ_CHECK(is_tchar((unsigned char)*p), "header name '%s' is no token", h->name);
    for (const unsigned char *p = (const unsigned char *)h->value; *p; p++)
      FUZZ_CHECK(*p == '\t' || (*p >= 0x20 && *p < 0x7f), "byte 0x%02x in the value of %s", *p,
                 h->name);
    static const char *const framing[] = {"content-length", "transfer-encoding", "connection",
                                          "date", "status"};
    for (size_t k = 0; k < sizeof framing / sizeof *framing; k++)
      FUZZ_CHECK(strcasecmp(h->name, framing[k]) != 0, "header %s kept", h->name);
    ct += strcasecmp(h->name, "content-type") == 0;
    loc += strcasecmp(h->name, "location") == 0;
  }
  FUZZ_CHECK(ct <= 1 && loc <= 1, "%d Content-Type, %d Location", ct, loc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *out = malloc(size ? size : 1);
  if (!out) return 0;
  memcpy(out, data, size);
  srv_response r;
  memset(&r, 0xA5, sizeof r);
  if (srv_response_parse(out, size, &r) == 0) {
    check_response(&r, out, size);
    srv_response_free(&r);
  } else {
    FUZZ_CHECK(r.status == 500 && r.n_headers == 0, "failure without a 500");
  }

  srv_env_list l = {0};
  char err[256];
  err[0] = 0;
  if (srv_env_parse_text((const char *)out, size, "fuzz.env", &l, err, sizeof err) == 0) {
    for (size_t i = 0; i < l.n; i++)
      FUZZ_CHECK(l.items[i].name && l.items[i].name[0] && l.items[i].value, "variable %zu", i);
  } else {
    FUZZ_CHECK(fuzz_msg_ok(err, sizeof err), "no message");
  }
  srv_env_list_free(&l);
  free(out);
  return 0;
}
