/* aot_gen.c — the WebAssembly-to-C translator of the AOT tier (aot.h).
 * Placeholder until the translator lands: compiling says so. */
#include "aot.h"

wasm_status wasmi_aot_generate(const wasm_module *m, const uint8_t digest[32], char **out,
                               size_t *len, wasm_error *err) {
  (void)m, (void)digest, (void)out, (void)len;
  return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX,
                         "this build has no WebAssembly-to-C translator yet");
}
