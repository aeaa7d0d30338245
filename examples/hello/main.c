/* hello — the smallest WAGI handler: a CGI-style response on stdout.
 * Built with clang-16 --target=wasm32-wasi; served at /hello by demo.toml. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  /* WAGI reads headers up to the first blank line; Content-Type (or
   * Location) is required, everything after the blank line is the body. */
  const char *who = getenv("QUERY_STRING");
  printf("Content-Type: text/plain; charset=utf-8\n\n");
  printf("Hello from WebAssembly! (a C module, wasm32-wasi, run by wagi-c)\n");
  if (who && *who) printf("query: %s\n", who);
  return 0;
}
