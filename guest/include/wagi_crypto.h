/* wagi_crypto.h — SHA-256, HMAC-SHA256, random bytes and UUIDs for C
 * modules (wasm32-wasi), also buildable natively for tests.
 *
 * Everything here works on caller-owned memory: contexts are plain structs
 * the caller places where it likes (stack, heap) and nothing is allocated.
 * Functions return WAGI_CRYPTO_OK (0) or a WAGI_CRYPTO_ERR_* code; none
 * aborts. Output pointers are written only on success.
 *
 *   uint8_t mac[WAGI_SHA256_LEN];
 *   wagi_hmac_sha256(key, key_len, msg, msg_len, mac);
 *
 *   char id[WAGI_UUID_LEN + 1];
 *   if (wagi_uuid_v4(id) != WAGI_CRYPTO_OK) ...   // "3f0c...-4...-a..."
 */
#ifndef WAGI_CRYPTO_H
#define WAGI_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WAGI_CRYPTO_OK = 0,
  WAGI_CRYPTO_ERR_ARG = 1,      /* NULL where a value is required, a finished context */
  WAGI_CRYPTO_ERR_TOO_LONG = 2, /* message over SHA-256's 2^64 - 1 bits */
  WAGI_CRYPTO_ERR_RANDOM = 3,   /* the system's random source failed */
};

/* Static text for a WAGI_CRYPTO_* code ("invalid argument"); never freed. */
const char *wagi_crypto_strerror(int code);

/* ---- SHA-256 (FIPS 180-4) ---- */

#define WAGI_SHA256_LEN 32   /* digest bytes */
#define WAGI_SHA256_BLOCK 64 /* block bytes (HMAC's B) */

/* Streaming state; treat as opaque. Copyable by assignment (to hash a
 * common prefix once). */
typedef struct {
  uint32_t h[8];
  uint64_t bytes; /* message length so far */
  uint8_t buf[WAGI_SHA256_BLOCK];
  uint32_t fill;  /* bytes in buf */
  uint32_t state; /* 1 while open, 0 once finished (or never initialised) */
} wagi_sha256_ctx;

/* Starts a digest. */
int wagi_sha256_init(wagi_sha256_ctx *c);
/* Adds n bytes (data may be NULL when n is 0). WAGI_CRYPTO_ERR_TOO_LONG when
 * the total would pass 2^61 - 1 bytes; the context is then unchanged. */
int wagi_sha256_update(wagi_sha256_ctx *c, const void *data, size_t n);
/* Writes the 32-byte digest to out and closes the context (init again to
 * reuse it; update or final after this give WAGI_CRYPTO_ERR_ARG). */
int wagi_sha256_final(wagi_sha256_ctx *c, uint8_t out[WAGI_SHA256_LEN]);
/* One shot: out = SHA-256(data[0..n)). */
int wagi_sha256(const void *data, size_t n, uint8_t out[WAGI_SHA256_LEN]);

/* ---- HMAC-SHA256 (RFC 2104, RFC 4231) ---- */

typedef struct {
  wagi_sha256_ctx inner, outer;
} wagi_hmac_sha256_ctx;

/* Starts a MAC with key[0..key_len) (any length; longer than 64 bytes is
 * hashed first, as RFC 2104 says). The key is not kept: the context holds
 * only the two keyed hash states. */
int wagi_hmac_sha256_init(wagi_hmac_sha256_ctx *c, const void *key, size_t key_len);
int wagi_hmac_sha256_update(wagi_hmac_sha256_ctx *c, const void *data, size_t n);
/* Writes the 32-byte MAC and closes the context. */
int wagi_hmac_sha256_final(wagi_hmac_sha256_ctx *c, uint8_t out[WAGI_SHA256_LEN]);
/* One shot. Azure's SharedKey, Cosmos and Event Grid SAS signatures are
 * base64(HMAC-SHA256(base64-decoded key, string-to-sign)). */
int wagi_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                     uint8_t out[WAGI_SHA256_LEN]);

/* Compares n bytes in time that does not depend on where they differ
 * (for checking a MAC or a key a client sent). 1 if equal, else 0. */
int wagi_crypto_equal(const void *a, const void *b, size_t n);

/* ---- Randomness ---- */

/* Fills buf with n bytes from the system's cryptographic source
 * (getentropy: WASI's random_get in a module, getrandom(2) natively). */
int wagi_random_bytes(void *buf, size_t n);

#define WAGI_UUID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx", without the NUL */

/* A random (version 4, RFC 9562) UUID in lowercase hex with a NUL:
 * out must hold WAGI_UUID_LEN + 1 bytes. */
int wagi_uuid_v4(char out[WAGI_UUID_LEN + 1]);
/* The same from 16 given bytes (version and variant bits are overwritten);
 * deterministic, for tests and for callers with their own randomness. */
int wagi_uuid_v4_from(const uint8_t bytes[16], char out[WAGI_UUID_LEN + 1]);

#ifdef __cplusplus
}
#endif
#endif
