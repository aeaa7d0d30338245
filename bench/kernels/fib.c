/* fib.c — naive recursive Fibonacci: calls and returns, nothing else. */
#include "kernel.h"

#ifdef SMALL
static int fib_n = 30;
#else
static int fib_n = 40;
#endif

static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

KERNEL_EXPORT int run(void) { return fib(OPAQUE(fib_n)); }
