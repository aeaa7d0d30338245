/* wagi_crypto.c — SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), random
 * bytes and UUIDs; see wagi_crypto.h. Written here rather than taken from a
 * library because the guest links only wasi-libc, which has no hashing. */
#define _DEFAULT_SOURCE /* getentropy in glibc's <unistd.h> for native builds */
#include <string.h>
#include <unistd.h>

#include "wagi_crypto.h"

#define SHA256_MAX_BYTES ((UINT64_C(1) << 61) - 1) /* 2^64 - 1 bits, rounded down to bytes */

const char *wagi_crypto_strerror(int code) {
  switch (code) {
  case WAGI_CRYPTO_OK: return "success";
  case WAGI_CRYPTO_ERR_ARG: return "invalid argument";
  case WAGI_CRYPTO_ERR_TOO_LONG: return "message too long for SHA-256";
  case WAGI_CRYPTO_ERR_RANDOM: return "the system's random source failed";
  default: return "unknown error";
  }
}

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static uint32_t load_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The rounds are unrolled eight at a time with the variables renamed instead
 * of rotated, and the schedule kept in a 16-word ring: about twice as fast as
 * the textbook loop (a cached /infer request hashes its whole body). */
#define SHA_ROUND(a, b, c, d, e, f, g, h, i, wi)                                                    \
  do {                                                                                             \
    uint32_t t1_ = (h) + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((g) ^ ((e) & ((f) ^ (g)))) +      \
                   K[i] + (wi);                                                                    \
    uint32_t t2_ = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + (((a) & (b)) | ((c) & ((a) | (b))));    \
    (d) += t1_;                                                                                    \
    (h) = t1_ + t2_;                                                                               \
  } while (0)

/* w[i & 15] becomes w[i] for i >= 16 */
#define SHA_SCHEDULE(w, i)                                                                         \
  ((w)[(i)&15] += (ror((w)[((i)-2) & 15], 17) ^ ror((w)[((i)-2) & 15], 19) ^                        \
                   ((w)[((i)-2) & 15] >> 10)) +                                                    \
                  (w)[((i)-7) & 15] +                                                              \
                  (ror((w)[((i)-15) & 15], 7) ^ ror((w)[((i)-15) & 15], 18) ^                       \
                   ((w)[((i)-15) & 15] >> 3)))

#define SHA_EIGHT(i, W)                                                                            \
  do {                                                                                             \
    SHA_ROUND(a, b, c, d, e, f, g, h, (i) + 0, W((i) + 0));                                        \
    SHA_ROUND(h, a, b, c, d, e, f, g, (i) + 1, W((i) + 1));                                        \
    SHA_ROUND(g, h, a, b, c, d, e, f, (i) + 2, W((i) + 2));                                        \
    SHA_ROUND(f, g, h, a, b, c, d, e, (i) + 3, W((i) + 3));                                        \
    SHA_ROUND(e, f, g, h, a, b, c, d, (i) + 4, W((i) + 4));                                        \
    SHA_ROUND(d, e, f, g, h, a, b, c, (i) + 5, W((i) + 5));                                        \
    SHA_ROUND(c, d, e, f, g, h, a, b, (i) + 6, W((i) + 6));                                        \
    SHA_ROUND(b, c, d, e, f, g, h, a, (i) + 7, W((i) + 7));                                        \
  } while (0)

static void block(uint32_t hs[8], const uint8_t *p) {
  uint32_t w[16];
  for (int i = 0; i < 16; i++) w[i] = load_be32(p + 4 * i);
  uint32_t a = hs[0], b = hs[1], c = hs[2], d = hs[3], e = hs[4], f = hs[5], g = hs[6], h = hs[7];
#define W_FIRST(i) w[i]
#define W_NEXT(i) SHA_SCHEDULE(w, i)
  SHA_EIGHT(0, W_FIRST);
  SHA_EIGHT(8, W_FIRST);
  for (int i = 16; i < 64; i += 8) SHA_EIGHT(i, W_NEXT);
#undef W_FIRST
#undef W_NEXT
  hs[0] += a, hs[1] += b, hs[2] += c, hs[3] += d, hs[4] += e, hs[5] += f, hs[6] += g, hs[7] += h;
}

int wagi_sha256_init(wagi_sha256_ctx *c) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  if (!c) return WAGI_CRYPTO_ERR_ARG;
  memcpy(c->h, iv, sizeof iv);
  c->bytes = 0;
  c->fill = 0;
  c->state = 1;
  return WAGI_CRYPTO_OK;
}

int wagi_sha256_update(wagi_sha256_ctx *c, const void *data, size_t n) {
  if (!c || c->state != 1 || (!data && n)) return WAGI_CRYPTO_ERR_ARG;
  if ((uint64_t)n > SHA256_MAX_BYTES - c->bytes) return WAGI_CRYPTO_ERR_TOO_LONG;
  const uint8_t *p = data;
  c->bytes += n;
  if (c->fill) {
    size_t take = WAGI_SHA256_BLOCK - c->fill;
    if (take > n) take = n;
    memcpy(c->buf + c->fill, p, take);
    c->fill += (uint32_t)take, p += take, n -= take;
    if (c->fill < WAGI_SHA256_BLOCK) return WAGI_CRYPTO_OK;
    block(c->h, c->buf);
    c->fill = 0;
  }
  for (; n >= WAGI_SHA256_BLOCK; p += WAGI_SHA256_BLOCK, n -= WAGI_SHA256_BLOCK) block(c->h, p);
  if (n) memcpy(c->buf, p, n);
  c->fill = (uint32_t)n;
  return WAGI_CRYPTO_OK;
}

int wagi_sha256_final(wagi_sha256_ctx *c, uint8_t out[WAGI_SHA256_LEN]) {
  if (!c || c->state != 1 || !out) return WAGI_CRYPTO_ERR_ARG;
  uint64_t bits = c->bytes * 8;
  c->buf[c->fill++] = 0x80;
  if (c->fill > WAGI_SHA256_BLOCK - 8) {
    memset(c->buf + c->fill, 0, WAGI_SHA256_BLOCK - c->fill);
    block(c->h, c->buf);
    c->fill = 0;
  }
  memset(c->buf + c->fill, 0, WAGI_SHA256_BLOCK - 8 - c->fill);
  for (int i = 0; i < 8; i++) c->buf[WAGI_SHA256_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
  block(c->h, c->buf);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
  memset(c, 0, sizeof *c); /* state 0: closed; no message bytes left behind */
  return WAGI_CRYPTO_OK;
}

int wagi_sha256(const void *data, size_t n, uint8_t out[WAGI_SHA256_LEN]) {
  wagi_sha256_ctx c;
  int rc = wagi_sha256_init(&c);
  if (rc == WAGI_CRYPTO_OK) rc = wagi_sha256_update(&c, data, n);
  if (rc == WAGI_CRYPTO_OK) rc = wagi_sha256_final(&c, out);
  return rc;
}

int wagi_hmac_sha256_init(wagi_hmac_sha256_ctx *c, const void *key, size_t key_len) {
  if (!c || (!key && key_len)) return WAGI_CRYPTO_ERR_ARG;
  uint8_t k[WAGI_SHA256_BLOCK] = {0}, pad[WAGI_SHA256_BLOCK];
  int rc = WAGI_CRYPTO_OK;
  if (key_len > WAGI_SHA256_BLOCK) rc = wagi_sha256(key, key_len, k);
  else if (key_len) memcpy(k, key, key_len);
  if (rc != WAGI_CRYPTO_OK) return rc;
  for (int i = 0; i < WAGI_SHA256_BLOCK; i++) pad[i] = k[i] ^ 0x36;
  wagi_sha256_init(&c->inner);
  wagi_sha256_update(&c->inner, pad, sizeof pad);
  for (int i = 0; i < WAGI_SHA256_BLOCK; i++) pad[i] = k[i] ^ 0x5c;
  wagi_sha256_init(&c->outer);
  wagi_sha256_update(&c->outer, pad, sizeof pad);
  memset(k, 0, sizeof k);
  memset(pad, 0, sizeof pad);
  return WAGI_CRYPTO_OK;
}

int wagi_hmac_sha256_update(wagi_hmac_sha256_ctx *c, const void *data, size_t n) {
  if (!c) return WAGI_CRYPTO_ERR_ARG;
  return wagi_sha256_update(&c->inner, data, n);
}

int wagi_hmac_sha256_final(wagi_hmac_sha256_ctx *c, uint8_t out[WAGI_SHA256_LEN]) {
  if (!c || !out || c->outer.state != 1) return WAGI_CRYPTO_ERR_ARG;
  uint8_t ih[WAGI_SHA256_LEN];
  int rc = wagi_sha256_final(&c->inner, ih);
  if (rc == WAGI_CRYPTO_OK) rc = wagi_sha256_update(&c->outer, ih, sizeof ih);
  if (rc == WAGI_CRYPTO_OK) rc = wagi_sha256_final(&c->outer, out);
  memset(ih, 0, sizeof ih);
  return rc;
}

int wagi_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                     uint8_t out[WAGI_SHA256_LEN]) {
  wagi_hmac_sha256_ctx c;
  int rc = wagi_hmac_sha256_init(&c, key, key_len);
  if (rc == WAGI_CRYPTO_OK) rc = wagi_hmac_sha256_update(&c, data, n);
  if (rc == WAGI_CRYPTO_OK) rc = wagi_hmac_sha256_final(&c, out);
  return rc;
}

int wagi_crypto_equal(const void *a, const void *b, size_t n) {
  const volatile uint8_t *x = a, *y = b;
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++) d |= x[i] ^ y[i];
  return d == 0;
}

int wagi_random_bytes(void *buf, size_t n) {
  if (!buf && n) return WAGI_CRYPTO_ERR_ARG;
  uint8_t *p = buf;
  while (n) {
    size_t take = n > 256 ? 256 : n; /* getentropy's limit per call */
    if (getentropy(p, take) != 0) return WAGI_CRYPTO_ERR_RANDOM;
    p += take, n -= take;
  }
  return WAGI_CRYPTO_OK;
}

int wagi_uuid_v4_from(const uint8_t bytes[16], char out[WAGI_UUID_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  if (!bytes || !out) return WAGI_CRYPTO_ERR_ARG;
  uint8_t b[16];
  memcpy(b, bytes, 16);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 (RFC 9562) */
  char *o = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hex[b[i] >> 4];
    *o++ = hex[b[i] & 15];
  }
  *o = 0;
  return WAGI_CRYPTO_OK;
}

int wagi_uuid_v4(char out[WAGI_UUID_LEN + 1]) {
  uint8_t b[16];
  if (!out) return WAGI_CRYPTO_ERR_ARG;
  int rc = wagi_random_bytes(b, sizeof b);
  if (rc != WAGI_CRYPTO_OK) return rc;
  return wagi_uuid_v4_from(b, out);
}
