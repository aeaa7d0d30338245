/* esc_long.c — very long paths and components, deep trees, and paths that
 * point outside linear memory. Must fail cleanly, never crash. */
#include <stdlib.h>

#include "common.h"

int main(void) {
  static char p[1 << 20];
  __wasi_fd_t fd;
  memset(p, 0, sizeof p);
  memset(p, 'a', 256);
  printf("component of 256 bytes: %s\n", ename(raw_open_n(PREOPEN, p, 256, &fd)));
  p[255] = 0;
  wres("create_directory component of 255 bytes", __wasi_path_create_directory(PREOPEN, p));
  wres("remove it", __wasi_path_remove_directory(PREOPEN, p));
  for (int i = 0; i < 4096; i += 2) memcpy(p + i, "a/", 2);
  printf("path of 4096 bytes: %s\n", ename(raw_open_n(PREOPEN, p, 4096, &fd)));
  p[4094] = 'x';
  printf("path of 4095 bytes (missing dirs): %s\n", ename(raw_open_n(PREOPEN, p, 4095, &fd)));
  memset(p, '/', sizeof p);
  /* Too long and absolute / escaping: either errno is right. */
  refused("1 MiB of slashes", raw_open_n(PREOPEN, p, sizeof p, &fd), __WASI_ERRNO_NAMETOOLONG,
          __WASI_ERRNO_NOTCAPABLE);
  for (size_t i = 0; i + 3 <= sizeof p; i += 3) memcpy(p + i, "../", 3);
  refused("1 MiB of ../", raw_open_n(PREOPEN, p, sizeof p - sizeof p % 3, &fd),
          __WASI_ERRNO_NAMETOOLONG, __WASI_ERRNO_NOTCAPABLE);
  refused("path_len beyond memory", raw_open_n(PREOPEN, p, 0x7fffffff, &fd), __WASI_ERRNO_FAULT,
          __WASI_ERRNO_NAMETOOLONG);
  printf("path pointer at the end of memory: %s\n",
         ename(raw_open_n(PREOPEN, (const void *)0xfffffffcu, 16, &fd)));

  /* 60 nested directories, then climb out with 61 "..". */
  char path[512] = "";
  int ok = 1;
  for (int i = 0; i < 60; i++) {
    strcat(path, i ? "/d" : "d");
    ok &= __wasi_path_create_directory(PREOPEN, path) == 0;
  }
  printf("60 nested directories: %s\n", yn(ok));
  char up[1024];
  snprintf(up, sizeof up, "%s", path);
  for (int i = 0; i < 60; i++) strcat(up, "/..");
  strcat(up, "/inside.txt");
  try_read("down 60, up 60, inside.txt", PREOPEN, 0, up);
  snprintf(up, sizeof up, "%s", path);
  for (int i = 0; i < 61; i++) strcat(up, "/..");
  strcat(up, "/outside/secret.txt");
  try_read("down 60, up 61, outside/secret.txt", PREOPEN, 0, up);
  return 0;
}
