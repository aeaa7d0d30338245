/* http_parse.c — the text a guest hands to `req`: method, header lines, URL,
 * and the allow-list decision for a URL's destination. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/utf8.h"
#include "http_int.h"

/* RFC 9110 tchar. */
static bool is_tchar(uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool http_method_valid(const uint8_t *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!is_tchar(s[i])) return false;
  return true;
}

uint32_t http_headers_parse(const uint8_t *text, size_t len, http_header_cb cb, void *arg) {
  if (!base_utf8_valid(text, len, NULL)) return HTTP_E_UTF8;
  size_t i = 0;
  while (i < len) {
    const uint8_t *nl = memchr(text + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - text) : len;
    size_t next = nl ? end + 1 : len;
    if (end > i && text[end - 1] == '\r') end--;
    if (end == i) { /* empty line */
      i = next;
      continue;
    }
    const uint8_t *colon = memchr(text + i, ':', end - i);
    if (!colon) return HTTP_E_INVALID_ENCODING;
    size_t nlen = (size_t)(colon - (text + i));
    if (!http_method_valid(text + i, nlen)) return HTTP_E_INVALID_ENCODING; /* token */
    const uint8_t *v = colon + 1;
    size_t vlen = end - (size_t)(v - text);
    for (size_t j = 0; j < vlen; j++)
      if ((v[j] < 0x20 && v[j] != '\t') || v[j] == 0x7f) return HTTP_E_INVALID_ENCODING;
    uint32_t rc = cb(arg, (const char *)text + i, nlen, (const char *)v, vlen);
    if (rc != HTTP_E_SUCCESS) return rc;
    i = next;
  }
  return HTTP_E_SUCCESS;
}

uint32_t http_url_dest(const char *url, http_dest *d) {
  CURLU *u = curl_url();
  if (!u) return HTTP_E_RUNTIME;
  uint32_t rc = HTTP_E_INVALID_URL;
  char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
  /* Only absolute URLs; no guessing a scheme, no IDN surprises in the match. */
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc == CURLUE_OUT_OF_MEMORY) rc = HTTP_E_RUNTIME;
  if (uc != CURLUE_OK) goto out;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto out;
  if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) goto out;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) goto out;
  /* user:password@ in an outbound URL is refused: it would be sent
   * (Authorization) and may fool a human reading the log about the host. */
  if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) goto out;
  if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) goto out;
  size_t hl = strlen(host);
  if (hl >= sizeof d->host) goto out;
  long p = strtol(port, NULL, 10);
  if (p <= 0 || p > 65535) goto out;
  memcpy(d->scheme, scheme, strlen(scheme) + 1);
  for (size_t i = 0; i <= hl; i++)
    d->host[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] - 'A' + 'a' : host[i]);
  d->port = (uint16_t)p;
  rc = HTTP_E_SUCCESS;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(user);
  curl_url_cleanup(u);
  return rc;
}

uint32_t http_dest_check(const http_ctx *ctx, const http_dest *d) {
  if (!ctx || !ctx->allow) return HTTP_E_DESTINATION_NOT_ALLOWED;
  return ctx->allow(ctx->allow_arg, d->scheme, d->host, d->port) ? HTTP_E_SUCCESS
                                                                 : HTTP_E_DESTINATION_NOT_ALLOWED;
}
