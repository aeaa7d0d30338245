/* qsort.c — recursive quicksort (median of three, insertion sort for short
 * ranges) of a PRNG-filled int array: branches, compares, memory traffic. */
#include "kernel.h"

#ifdef SMALL
#define N 100000
static int reps = 1;
#else
#define N 1000000
static int reps = 3;
#endif

static int32_t arr[N];

static void isort(int32_t *a, int n) {
  for (int i = 1; i < n; i++) {
    int32_t v = a[i];
    int j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

static void quicksort(int32_t *a, int n) {
  while (n > 16) {
    int32_t x = a[0], y = a[n / 2], z = a[n - 1];
    int32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    int i = 0, j = n - 1;
    for (;;) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i >= j) break;
      int32_t t = a[i];
      a[i] = a[j];
      a[j] = t;
      i++;
      j--;
    }
    /* recurse on the smaller side, loop on the larger: bounded depth */
    int left = j + 1;
    if (left < n - left) {
      quicksort(a, left);
      a += left;
      n -= left;
    } else {
      quicksort(a + left, n - left);
      n = left;
    }
  }
  isort(a, n);
}

KERNEL_EXPORT int run(void) {
  uint32_t sum = 0;
  int r = OPAQUE(reps);
  for (int rep = 0; rep < r; rep++) {
    uint32_t seed = 2463534242u + (uint32_t)rep;
    for (int i = 0; i < N; i++) arr[i] = (int32_t)kernel_rand(&seed);
    quicksort(arr, N);
    for (int i = 0; i < N; i += 97) sum = sum * 31 + (uint32_t)arr[i];
    for (int i = 1; i < N; i++)
      if (arr[i - 1] > arr[i]) return -1; /* not sorted: checksum says so */
  }
  return (int)sum;
}
