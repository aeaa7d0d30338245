/* hello.c — the benchmark's WAGI module: the smallest useful response.
 * Build: clang-16 --target=wasm32-wasi -O2 hello.c -o hello.wasm -Wl,--strip-all */
#include <stdio.h>

int main(void) {
  fputs("Content-Type: text/plain\n\nhello\n", stdout);
  return 0;
}
