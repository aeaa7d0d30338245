/* routes.c — the `dynamic-routes` module of WAGI's tests: `_routes` maps
 * an exact, a wildcard and an explicit `_start` sub-route. */
#include "print.h"

__attribute__((export_name("_routes"))) void routes(void) {
  /* Goes to the configured (parent) route's module.stderr (§5.5). */
  if (write(2, "routes discovery on stderr\n", 27) != 27) __builtin_trap();
  out_str("/exact on_exact\n/wildcard/... on_wildcard\n/main _start\n");
  out_flush();
}

__attribute__((export_name("on_exact"))) void on_exact(void) { print_request("exact"); }
__attribute__((export_name("on_wildcard"))) void on_wildcard(void) { print_request("wildcard"); }

int main(void) {
  print_request("main");
  return 0;
}
