/* matmul.c — single-precision matrix multiply, i-k-j order (the inner loop
 * streams rows, as a tuned scalar kernel would). */
#include "kernel.h"

#define N 256
#ifdef SMALL
static int reps = 1;
#define DIM 128
#else
static int reps = 100;
#define DIM N
#endif

static float a[N * N], b[N * N], c[N * N];

KERNEL_EXPORT int run(void) {
  const int n = DIM;
  uint32_t seed = 12345;
  for (int i = 0; i < n * n; i++) {
    a[i] = (float)(kernel_rand(&seed) % 1000) / 500.0f - 1.0f;
    b[i] = (float)(kernel_rand(&seed) % 1000) / 500.0f - 1.0f;
  }
  uint32_t sum = 0;
  int r = OPAQUE(reps);
  for (int rep = 0; rep < r; rep++) {
    for (int i = 0; i < n * n; i++) c[i] = 0.0f;
    for (int i = 0; i < n; i++)
      for (int k = 0; k < n; k++) {
        float aik = a[i * n + k];
        for (int j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
      }
    for (int i = 0; i < n * n; i++) {
      union {
        float f;
        uint32_t u;
      } v = {c[i]};
      sum = sum * 31 + v.u;
    }
    a[rep % (n * n)] += 0.5f; /* each repetition computes something new */
  }
  return (int)sum;
}
