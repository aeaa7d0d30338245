/* print.h — shared by the integration-test modules: prints the request as
 * the module saw it (argv, environment, stdin) as one JSON object, so the
 * pytest side can assert every CGI variable exactly. Uses the WASI calls
 * directly: an exported entry point other than _start must not depend on
 * libc's lazy argv/environ set-up. */
#ifndef WAGI_TEST_PRINT_H
#define WAGI_TEST_PRINT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

static char *out_buf;
static size_t out_len, out_cap;

static void out_bytes(const char *s, size_t n) {
  if (out_len + n > out_cap) {
    size_t nc = out_cap ? out_cap * 2 : 4096;
    while (nc < out_len + n) nc *= 2;
    out_buf = realloc(out_buf, nc);
    if (!out_buf) __builtin_trap();
    out_cap = nc;
  }
  memcpy(out_buf + out_len, s, n);
  out_len += n;
}

static void out_str(const char *s) { out_bytes(s, strlen(s)); }

static void out_flush(void) {
  size_t off = 0;
  while (off < out_len) {
    ssize_t w = write(1, out_buf + off, out_len - off);
    if (w <= 0) __builtin_trap();
    off += (size_t)w;
  }
  out_len = 0;
}

static void out_json_str(const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  out_bytes("\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      out_bytes(e, 2);
    } else if (c < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      out_bytes(e, 6);
    } else {
      out_bytes((const char *)&c, 1);
    }
  }
  out_bytes("\"", 1);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* {"handler": H, "argv": [...], "env": {...}, "stdin": "..."} */
static void print_request(const char *handler) {
  out_str("Content-Type: application/json\n\n{\"handler\": ");
  out_json_str(handler, strlen(handler));

  __wasi_size_t argc = 0, argbytes = 0;
  if (__wasi_args_sizes_get(&argc, &argbytes)) __builtin_trap();
  char **argv = calloc(argc + 1, sizeof *argv);
  char *argb = malloc(argbytes + 1);
  if (__wasi_args_get((uint8_t **)argv, (uint8_t *)argb)) __builtin_trap();
  out_str(", \"argv\": [");
  for (size_t i = 0; i < argc; i++) {
    if (i) out_str(", ");
    out_json_str(argv[i], strlen(argv[i]));
  }
  out_str("]");

  __wasi_size_t envc = 0, envbytes = 0;
  if (__wasi_environ_sizes_get(&envc, &envbytes)) __builtin_trap();
  char **env = calloc(envc + 1, sizeof *env);
  char *envb = malloc(envbytes + 1);
  if (__wasi_environ_get((uint8_t **)env, (uint8_t *)envb)) __builtin_trap();
  qsort(env, envc, sizeof *env, cmp_str);
  out_str(", \"env\": {");
  for (size_t i = 0; i < envc; i++) {
    const char *eq = strchr(env[i], '=');
    size_t nl = eq ? (size_t)(eq - env[i]) : strlen(env[i]);
    if (i) out_str(", ");
    out_json_str(env[i], nl);
    out_str(": ");
    const char *v = eq ? eq + 1 : "";
    out_json_str(v, strlen(v));
  }
  out_str("}, \"envc\": ");
  char num[24];
  int k = 0;
  size_t v = envc;
  char tmp[24];
  do {
    tmp[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (int i = 0; i < k; i++) num[i] = tmp[k - 1 - i];
  out_bytes(num, (size_t)k);

  /* stdin: the request body */
  out_str(", \"stdin\": ");
  char *in = NULL;
  size_t inl = 0, inc = 0;
  for (;;) {
    if (inl == inc) {
      inc = inc ? inc * 2 : 4096;
      in = realloc(in, inc);
      if (!in) __builtin_trap();
    }
    ssize_t r = read(0, in + inl, inc - inl);
    if (r < 0) __builtin_trap();
    if (r == 0) break;
    inl += (size_t)r;
  }
  out_json_str(in ? in : "", inl);
  out_str("}\n");
  out_flush();
}

#endif
