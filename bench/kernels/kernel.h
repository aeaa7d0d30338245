/* kernel.h — shared by the benchmark kernels. Each kernel defines
 * `int run(void)`, which does all its work (re-initialising its own data, so
 * it can be called repeatedly) and returns a checksum that must be identical
 * on every runner. Built twice: for wasm32 (clang, no libc) and natively
 * (gcc -O2, with bench/native_main.c). -DSMALL selects a problem size for
 * the slow reference interpreter. */
#ifndef BENCH_KERNEL_H
#define BENCH_KERNEL_H

#include <stdint.h>

#if defined(__wasm__)
#define KERNEL_EXPORT __attribute__((export_name("run"), used))
#else
#define KERNEL_EXPORT
#endif

/* A value the optimiser cannot see through: keeps problem sizes opaque so
 * neither compiler folds the benchmark away. */
#define OPAQUE(x) (*(volatile __typeof__(x) *)&(x))

static inline uint32_t kernel_rand(uint32_t *s) { /* xorshift32 */
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

int run(void);

#endif
