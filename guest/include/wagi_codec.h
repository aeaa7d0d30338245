/* wagi_codec.h — base64 (RFC 4648), hex, and URL percent-encoding
 * (RFC 3986) for C modules (wasm32-wasi), also buildable natively.
 *
 * Two forms of each conversion:
 *  - into a caller's buffer: `out` holds `cap` bytes; the result is
 *    NUL-terminated, so cap must be at least the *_len() size, which counts
 *    the NUL; *out_len (may be NULL) gets the length without the NUL.
 *    WAGI_CODEC_ERR_SPACE when it does not fit (nothing useful in out then);
 *  - *_alloc: the result is malloc'd, NUL-terminated, and the caller owns it
 *    (free()); *out and *out_len are written only on success.
 * Decoded output may contain any byte, NUL included: use the length.
 * Decoding into the input's own buffer (out == in) is allowed: the output is
 * never longer than the input and never overtakes it.
 * Every function returns WAGI_CODEC_OK (0) or a WAGI_CODEC_ERR_* code;
 * decoders report the byte offset of the first bad input through an
 * optional `err_at`.
 *
 *   char *b64; size_t n;
 *   if (wagi_base64_encode_alloc(mac, 32, &b64, &n) == WAGI_CODEC_OK) { ...; free(b64); }
 */
#ifndef WAGI_CODEC_H
#define WAGI_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WAGI_CODEC_OK = 0,
  WAGI_CODEC_ERR_ARG = 1,       /* NULL where a value is required, an unknown flag */
  WAGI_CODEC_ERR_SPACE = 2,     /* the output buffer is too small */
  WAGI_CODEC_ERR_INVALID = 3,   /* a character outside the alphabet, a bad %XX */
  WAGI_CODEC_ERR_PADDING = 4,   /* base64: bad length, misplaced '=', non-zero pad bits */
  WAGI_CODEC_ERR_NOMEM = 5,     /* malloc failed */
  WAGI_CODEC_ERR_TOO_LARGE = 6, /* the output size would not fit in size_t */
  WAGI_CODEC_ERR_NOT_FOUND = 7, /* wagi_query_get: no such parameter */
};

/* Static text for a WAGI_CODEC_* code; never freed. */
const char *wagi_codec_strerror(int code);

/* ---- base64, standard alphabet (A-Z a-z 0-9 + /) with '=' padding ---- */

/* Buffer size (with the NUL) for encoding n bytes; 0 if it overflows. */
size_t wagi_base64_encoded_size(size_t n);
int wagi_base64_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len);
int wagi_base64_encode_alloc(const void *in, size_t n, char **out, size_t *out_len);

/* Strict decoding: the length must be a multiple of 4, '=' only as the last
 * one or two characters, the unused bits before padding zero, and nothing
 * else (no whitespace, no line breaks, no URL-safe '-' '_'). An empty input
 * decodes to zero bytes. A buffer of n / 4 * 3 + 1 bytes is always enough. */
int wagi_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len,
                       size_t *err_at);
int wagi_base64_decode_alloc(const char *in, size_t n, uint8_t **out, size_t *out_len,
                             size_t *err_at);

/* ---- hex ---- */

/* Lowercase; cap >= 2 * n + 1. */
int wagi_hex_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len);
/* Either case; an odd length is WAGI_CODEC_ERR_INVALID at offset n. */
int wagi_hex_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len,
                    size_t *err_at);

/* ---- URL percent-encoding (RFC 3986) ---- */

/* Flags for the URL functions. */
enum {
  /* encode: keep '/' as is (a blob name's path, e.g. "a/b c" -> "a/b%20c") */
  WAGI_URL_KEEP_SLASH = 1,
  /* encode: space as '+'; decode: '+' as space (application/x-www-form-
   * urlencoded, as browsers and `curl -d` send query strings and forms) */
  WAGI_URL_FORM = 2,
};

/* Everything except the unreserved set (A-Z a-z 0-9 - . _ ~) becomes %XX
 * with uppercase hex (RFC 3986 §2.1, and what Azure signs: a SAS signature
 * "a+b/c=" is sent as "a%2Bb%2Fc%3D"). Bytes are encoded as they are; no
 * UTF-8 check. The result is at most 3 * n + 1 bytes with the NUL. */
int wagi_url_encode(const char *in, size_t n, int flags, char *out, size_t cap, size_t *out_len);
int wagi_url_encode_alloc(const char *in, size_t n, int flags, char **out, size_t *out_len);

/* Decodes %XX (either case); a '%' not followed by two hex digits is
 * WAGI_CODEC_ERR_INVALID at its offset. Other bytes pass through as they
 * are (lenient about characters RFC 3986 would have encoded, as servers
 * are). cap >= n + 1 is always enough. */
int wagi_url_decode(const char *in, size_t n, int flags, char *out, size_t cap, size_t *out_len,
                    size_t *err_at);

/* The value of the first parameter called `name` in a query string
 * ("container=c1&blob=a%2Fb"; a leading '?' is skipped), both sides
 * form-decoded ('+' is a space) before comparing. A parameter without '='
 * has the empty value. On WAGI_CODEC_OK *value is malloc'd and
 * NUL-terminated (the caller frees it). A value that decodes to a NUL byte
 * is WAGI_CODEC_ERR_INVALID, so the C string is the whole value;
 * WAGI_CODEC_ERR_NOT_FOUND when the name is absent. */
int wagi_query_get(const char *query, const char *name, char **value, size_t *value_len);

#ifdef __cplusplus
}
#endif
#endif
