/* esc_nul.c — paths with NUL bytes: a runtime that hands the guest's bytes
 * to the host as a C string would act on the prefix only. All must fail
 * with EINVAL and create nothing. */
#include "common.h"

static void open_n(const char *what, const char *p, size_t len) {
  __wasi_fd_t fd;
  printf("%s: %s\n", what, ename(raw_open_n(PREOPEN, p, len, &fd)));
}

int main(void) {
  open_n("inside.txt\\0../../outside/secret.txt", "inside.txt\0../../outside/secret.txt", 36);
  open_n("inside.txt\\0", "inside.txt\0", 11);
  open_n("\\0", "\0", 1);
  open_n("empty path", "", 0);
  printf("create_directory newdir\\0x: %s\n",
         ename(imp_path_create_directory(PREOPEN, (int32_t)(uintptr_t) "newdir\0x", 8)));
  printf("create_directory ../\\0: %s\n",
         ename(imp_path_create_directory(PREOPEN, (int32_t)(uintptr_t) "../\0", 4)));
  __wasi_filestat_t st;
  printf("filestat inside.txt\\0: %s\n",
         ename(imp_path_filestat_get(PREOPEN, 0, (int32_t)(uintptr_t) "inside.txt\0", 11,
                                     (int32_t)(uintptr_t)&st)));
  open_n("inside.txt (control, exact length)", "inside.txt", 10);
  return 0;
}
