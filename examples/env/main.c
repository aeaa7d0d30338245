/* env — prints what a WAGI module sees: argv, the CGI environment (sorted)
 * and the size of the request body. Served at /env/... by demo.toml, so that
 * PATH_INFO and X_RAW_PATH_INFO show the part after /env. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  printf("Content-Type: text/plain; charset=utf-8\n\n");

  printf("argv:");
  for (int i = 0; i < argc; i++) printf(" [%s]", argv[i]);
  printf("\n\nenvironment:\n");

  size_t n = 0;
  while (environ && environ[n]) n++;
  /* Sorted so that two requests are easy to compare; the order WAGI passes
   * variables in carries no meaning. */
  char **sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (!sorted) {
    printf("out of memory\n");
    return 1;
  }
  memcpy(sorted, environ, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, cmp_str);
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(sorted[i], '=');
    if (eq) printf("  %.*s = %s\n", (int)(eq - sorted[i]), sorted[i], eq + 1);
    else printf("  %s\n", sorted[i]);
  }
  free(sorted);

  /* The body arrives on stdin (CONTENT_LENGTH tells its size). */
  size_t body = 0;
  char buf[4096];
  size_t r;
  while ((r = fread(buf, 1, sizeof buf, stdin)) > 0) body += r;
  printf("\nrequest body: %zu bytes\n", body);
  return 0;
}
