/* echo — returns the request body unchanged, with the request's Content-Type
 * and a custom header carrying its size. Served at /echo by demo.toml. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  char *body = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      size_t nc = cap ? cap * 2 : 4096;
      char *nb = realloc(body, nc);
      if (!nb) {
        /* Status is honoured by WAGI even without a body. */
        printf("Status: 500\nContent-Type: text/plain\n\nout of memory\n");
        return 0;
      }
      body = nb;
      cap = nc;
    }
    size_t r = fread(body + len, 1, cap - len, stdin);
    if (r == 0) break;
    len += r;
  }

  const char *ct = getenv("CONTENT_TYPE");
  const char *method = getenv("REQUEST_METHOD");
  printf("Content-Type: %s\n", ct && *ct ? ct : "application/octet-stream");
  printf("X-Echo-Method: %s\n", method ? method : "?");
  printf("X-Echo-Bytes: %zu\n\n", len);
  if (len) fwrite(body, 1, len, stdout);
  free(body);
  return 0;
}
