/* args_env.c — argv and the environment: exactly what the runner gives,
 * nothing inherited from the host. */
#include <stdlib.h>

#include "common.h"

extern char **environ;

int main(int argc, char **argv) {
  printf("argc: %d\n", argc);
  for (int i = 0; i < argc; i++)
    printf("argv[%d]: \"%s\" (%zu bytes)\n", i, argv[i], strlen(argv[i]));
  int n = 0;
  for (char **e = environ; *e; e++) printf("environ[%d]: \"%s\"\n", n++, *e);
  printf("environ count: %d\n", n);
  const char *probe[] = {"GREETING", "EMPTY", "WITH_EQUALS",    "PATH",
                         "HOME",     "USER",  "SECRET_HOST_VAR"};
  for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
    const char *v = getenv(probe[i]);
    printf("getenv %s: %s%s%s\n", probe[i], v ? "\"" : "", v ? v : "(unset)", v ? "\"" : "");
  }
  /* The guest's own environment is its own business. */
  printf("setenv: %d\n", setenv("NEW", "1", 0));
  printf("getenv NEW: %s\n", getenv("NEW"));
  printf("unsetenv: %d\n", unsetenv("GREETING"));
  printf("getenv GREETING after unset: %s\n", getenv("GREETING") ? "set" : "(unset)");

  /* Raw sizes agree with what libc saw. */
  __wasi_size_t ac = 0, ab = 0, ec = 0, eb = 0;
  wres("args_sizes_get", __wasi_args_sizes_get(&ac, &ab));
  printf("args count %u, bytes %u\n", (unsigned)ac, (unsigned)ab);
  wres("environ_sizes_get", __wasi_environ_sizes_get(&ec, &eb));
  printf("environ count %u, bytes %u\n", (unsigned)ec, (unsigned)eb);
  return 0;
}
