/* sha256.h — SHA-256 of a buffer (FIPS 180-4), for module digests (the AOT
 * tier keys compiled code by it). The guest SDK has its own copy
 * (guest/src/wagi_crypto.c): guest code never links host code. */
#ifndef WAGI_BASE_SHA256_H
#define WAGI_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

void base_sha256(const void *data, size_t n, uint8_t out[32]);
/* Lower-case hex of a digest into out (65 bytes with the NUL). */
void base_sha256_hex(const uint8_t digest[32], char out[65]);

#endif
