/* wagi_simd128.h — SIMD128 for guest/ code (internal). Built for wasm32
 * with -msimd128 it is clang's wasm_simd128.h. Built natively with
 * WAGI_GUEST_SIMDE defined, it is SIMDe's portable implementation of the
 * same intrinsics (Debian's libsimde-dev), so that the very same kernels
 * run natively: under ASan/UBSan in the tests, and as the native row of
 * bench/tf. WAGI_SIMD128 is defined when either is in use; without it the
 * kernels' scalar twins run. */
#ifndef WAGI_SIMD128_H
#define WAGI_SIMD128_H

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define WAGI_SIMD128 1
#elif defined(WAGI_GUEST_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/wasm/simd128.h>
#define WAGI_SIMD128 1
#endif

#endif
