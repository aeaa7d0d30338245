/* fuzz_common.h — shared by the libFuzzer targets tests/fuzz/fuzz_*.c
 * (header-only: each target is its own binary).
 *
 * The engine turns wasm out-of-bounds accesses into traps with its own
 * SIGSEGV handler (src/wasm/memory.c), which chains every other fault to
 * the handler it replaced (ASan's). ASan refuses a program's SIGSEGV handler
 * unless allow_user_segv_handler=1, so the targets set it as their default
 * (an ASAN_OPTIONS from the environment still wins). */
#ifndef WAGI_FUZZ_COMMON_H
#define WAGI_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "allow_user_segv_handler=1:handle_segv=1:handle_sigbus=1:detect_leaks=1";
}

/* A broken invariant: say which, then abort so that libFuzzer keeps the
 * input as a crash. */
#define FUZZ_CHECK(cond, ...)                                                                      \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* A message must be one non-empty, NUL-terminated line inside its buffer. */
static inline int fuzz_msg_ok(const char *msg, size_t cap) {
  size_t n = strnlen(msg, cap);
  return n > 0 && n < cap;
}

#endif
