/* behave.c — one module, many entry points, each a behaviour the server
 * must handle: output variants (§6), failures (§6.3), limits, volumes,
 * stderr logs. The test config maps a route to each entry point. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "print.h"

#define EXPORT(name) __attribute__((export_name(#name))) void name(void)

/* getenv without libc's environ set-up (see print.h). */
static char *env_get(const char *name) {
  __wasi_size_t envc = 0, envbytes = 0;
  if (__wasi_environ_sizes_get(&envc, &envbytes)) __builtin_trap();
  char **env = calloc(envc + 1, sizeof *env);
  char *envb = malloc(envbytes + 1);
  if (__wasi_environ_get((uint8_t **)env, (uint8_t *)envb)) __builtin_trap();
  size_t n = strlen(name);
  for (size_t i = 0; i < envc; i++)
    if (strncmp(env[i], name, n) == 0 && env[i][n] == '=') return env[i] + n + 1;
  return "";
}

static void emit(const char *s) {
  out_str(s);
  out_flush();
}

int main(void) {
  emit("Content-Type: text/plain\n\nok\n");
  return 0;
}

EXPORT(html) { emit("Content-Type: text/html\n\n<h1>hi</h1>\n"); }
EXPORT(trap) {
  emit("Content-Type: text/plain\n\nthis must not be sent\n");
  __builtin_trap();
}
EXPORT(exit0) {
  emit("Content-Type: text/plain\n\nexited zero\n");
  __wasi_proc_exit(0);
}
EXPORT(exit3) {
  emit("Content-Type: text/plain\n\nexited three\n");
  __wasi_proc_exit(3);
}
EXPORT(loop) {
  volatile unsigned long n = 0;
  for (;;) n++;
}
/* Where hog's blocks escape to, so the compiler cannot elide them. */
static char *volatile hog_sink;
EXPORT(hog) {
  /* Grow until the server's memory cap refuses, then fail loudly. */
  for (;;) {
    char *p = malloc(1 << 20);
    if (!p) __builtin_trap();
    memset(p, 1, 1 << 20);
    hog_sink = p;
  }
}
EXPORT(bigout) {
  static char chunk[1 << 16];
  memset(chunk, 'x', sizeof chunk);
  emit("Content-Type: text/plain\n\n");
  for (int i = 0; i < 1024; i++) {                 /* 64 MiB */
    if (write(1, chunk, sizeof chunk) < 0) return; /* cap reached */
  }
}
EXPORT(noct) { emit("X-Foo: bar\n\nbody\n"); }
EXPORT(emptyout) {}
EXPORT(nosplit) { emit("Content-Type: text/plain\nno blank line"); }
EXPORT(badstatus) { emit("Status: abc\nContent-Type: text/plain\n\nbody\n"); }
EXPORT(nonutf8) { emit("Content-Type: text/plain\nX-Bad: \xff\xfe\n\nbody\n"); }
EXPORT(badvalue) { emit("Content-Type: text/plain\nX-Bad: caf\xc3\xa9\n\nbody\n"); }
EXPORT(badname) { emit("Content-Type: text/plain\nBad Name: x\nGood: y\n\nok\n"); }
EXPORT(location) { emit("Location: /elsewhere\n\n"); }
EXPORT(status_location) { emit("Location: /x\nStatus: 301 Moved\n\n"); }
EXPORT(status_then_location) {
  emit("Status: 200\nLocation: /x\nContent-Type: text/plain\n\nstay\n");
}
EXPORT(statusonly) { emit("Status: 404 Not Found\n\nmissing\n"); }
EXPORT(status204) { emit("Status: 204\n\n"); }
EXPORT(status99) { emit("Status: 99\nContent-Type: text/plain\n\nbody\n"); }
EXPORT(status1000) { emit("Status: 1000 Big\nContent-Type: text/plain\n\nbody\n"); }
EXPORT(emptyvalue) { emit("Content-Type: text/plain\nX-Empty:\nX-After: yes\n\nok\n"); }
EXPORT(datehdr) { emit("Content-Type: text/plain\nDate: Thu, 01 Jan 1970 00:00:00 GMT\n\nok\n"); }
EXPORT(headersonly) { emit("Content-Type: text/plain\n"); }
EXPORT(status500) { emit("Status: 500\nContent-Type: text/plain\n\nmine\n"); }
EXPORT(teapot) { emit("Status: 418 I'm a teapot\nContent-Type: text/plain\n\nshort and stout\n"); }
EXPORT(cookies) {
  emit(
      "Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\nset-cookie: c=3; Path=/\n\n"
      "cookies\n");
}
EXPORT(crlf) { emit("Content-Type: text/plain\r\nX-Crlf: yes\r\n\r\nbody\r\nline2\r\n"); }
EXPORT(lfcrlf) { emit("Content-Type: text/plain\n\r\nbody\r\n"); }
EXPORT(binary) {
  out_str("Content-Type: application/octet-stream\n\n");
  for (int i = 0; i < 256; i++) {
    char c = (char)i;
    out_bytes(&c, 1);
  }
  out_flush();
}
EXPORT(stderr_marker) {
  const char *q = env_get("QUERY_STRING");
  char line[512];
  int n = snprintf(line, sizeof line, "stderr-marker %s\n", q);
  if (write(2, line, (size_t)n) < 0) __builtin_trap();
  emit("Content-Type: text/plain\n\nlogged\n");
}
/* 3 MiB to stderr in 64 KiB lines; every write must be reported whole
 * (the server cuts the log silently), then a normal response. */
EXPORT(stderr_flood) {
  static char chunk[1 << 16];
  memset(chunk, 'e', sizeof chunk);
  chunk[sizeof chunk - 1] = '\n';
  for (int i = 0; i < 48; i++)
    if (write(2, chunk, sizeof chunk) != (ssize_t)sizeof chunk) __builtin_trap();
  emit("Content-Type: text/plain\n\nflooded\n");
}
EXPORT(readfile) {
  const char *path = env_get("QUERY_STRING");
  FILE *f = fopen(path, "rb");
  if (!f) {
    char msg[512];
    snprintf(msg, sizeof msg, "Status: 403\nContent-Type: text/plain\n\nopen failed: %s\n",
             strerror(errno));
    emit(msg);
    return;
  }
  out_str("Content-Type: text/plain\n\n");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out_bytes(buf, n);
  fclose(f);
  out_flush();
}
/* Closes every fd above stdio (the preopened volumes) and renumbers onto
 * 3: the server's shared volume fds must survive it. */
EXPORT(closevols) {
  int closed = 0;
  for (int fd = 3; fd < 16; fd++) closed += __wasi_fd_close((__wasi_fd_t)fd) == 0;
  char msg[96];
  snprintf(msg, sizeof msg, "Content-Type: text/plain\n\nclosed %d\n", closed);
  emit(msg);
}
EXPORT(writefile) {
  const char *path = env_get("QUERY_STRING");
  FILE *f = fopen(path, "wb");
  if (!f) {
    char msg[512];
    snprintf(msg, sizeof msg, "Status: 403\nContent-Type: text/plain\n\nopen failed: %s\n",
             strerror(errno));
    emit(msg);
    return;
  }
  fputs("written by wasm\n", f);
  fclose(f);
  emit("Content-Type: text/plain\n\nwritten\n");
}
EXPORT(echo) {
  out_str("Content-Type: application/octet-stream\n\n");
  char buf[4096];
  ssize_t n;
  while ((n = read(0, buf, sizeof buf)) > 0) out_bytes(buf, (size_t)n);
  out_flush();
}
EXPORT(slow) {
  long ms = atol(env_get("QUERY_STRING"));
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  emit("Content-Type: text/plain\n\nslept\n");
}
EXPORT(env) { print_request("env"); }
