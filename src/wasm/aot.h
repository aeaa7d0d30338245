/* aot.h — the AOT tier inside the engine: the translator (aot_gen.c) that
 * writes a validated module as C against aot_abi.h. */
#ifndef WAGI_WASM_AOT_H
#define WAGI_WASM_AOT_H

#include <stddef.h>
#include <stdint.h>

#include "wasm.h"

/* Writes the C translation of validated module m. Its binary (m->bytes,
 * m->len) is embedded in the output as `wagi_aot_wasm` (with a NUL after the
 * last byte) and `wagi_aot_wasm_len`, and `digest` (the SHA-256 of those
 * bytes) goes into the descriptor `WAGI_AOT_SYMBOL`. The output includes
 * "aot_abi.h", "numops.h" and, when the module uses v128 anywhere,
 * "simd_ops.h". Compile it with ISO C semantics for floating point (e.g.
 * `-std=c11 -ffp-contract=off -fsignaling-nans`): wasm forbids contracting
 * a multiply and an add, and x * 1.0 must still quiet a signalling NaN.
 * On success *out is a malloc'd NUL-terminated C source (the caller frees
 * it) and *len its length; on failure nothing is written to *out and err
 * says why (WASM_ERR_NOMEM, or WASM_ERR_INVALID for a body the translator
 * cannot read). */
wasm_status wasmi_aot_generate(const wasm_module *m, const uint8_t digest[32], char **out,
                               size_t *len, wasm_error *err);

#endif
