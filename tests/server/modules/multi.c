/* multi.c — can_serve_multiple_static_entrypoints. */
#include <stdio.h>

int main(void) {
  printf("Content-Type: text/plain\n\nDefault entrypoint\n");
  return 0;
}

__attribute__((export_name("ep1"))) void ep1(void) {
  printf("Content-Type: text/plain\n\nEntrypoint 1\n");
  fflush(stdout);
}

__attribute__((export_name("ep2"))) void ep2(void) {
  printf("Content-Type: text/plain\n\nEntrypoint 2\n");
  fflush(stdout);
}
