/* env.c — prints what the module sees (argv, env, stdin) as JSON. */
#include "print.h"

int main(void) {
  print_request("main");
  return 0;
}

__attribute__((export_name("other"))) void other(void) { print_request("other"); }
