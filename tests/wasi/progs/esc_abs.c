/* esc_abs.c — absolute paths handed to the runtime directly (wasi-libc
 * would map them onto preopens itself; the raw calls test the runtime). */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  try_read("/etc/passwd", PREOPEN, 0, "/etc/passwd");
  try_read("/", PREOPEN, 0, "/");
  try_read("//etc/passwd", PREOPEN, 0, "//etc/passwd");
  try_read("/sandbox/inside.txt", PREOPEN, 0, "/sandbox/inside.txt");
  try_read("/proc/self/environ", PREOPEN, 0, "/proc/self/environ");
  __wasi_filestat_t st;
  wres("filestat /etc", __wasi_path_filestat_get(PREOPEN, 0, "/etc", &st));
  wres("create_directory /tmp/wagi_escape_abs",
       __wasi_path_create_directory(PREOPEN, "/tmp/wagi_escape_abs"));
  __wasi_fd_t fd;
  wres("create /tmp/wagi_escape_abs.txt",
       __wasi_path_open(PREOPEN, 0, "/tmp/wagi_escape_abs.txt", __WASI_OFLAGS_CREAT,
                        __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
  wres("unlink /etc/passwd", __wasi_path_unlink_file(PREOPEN, "/etc/passwd"));
  wres("rename inside.txt -> /tmp/wagi_escape_moved",
       __wasi_path_rename(PREOPEN, "inside.txt", PREOPEN, "/tmp/wagi_escape_moved"));
  wres("link /etc/passwd -> pw", __wasi_path_link(PREOPEN, 0, "/etc/passwd", PREOPEN, "pw"));
  /* libc: only preopens are reachable. */
  int f = open("/etc/passwd", O_RDONLY);
  printf("libc open /etc/passwd: %s\n", f >= 0 ? "OPENED" : ename(errno));
  f = open("/sandbox/inside.txt", O_RDONLY);
  printf("libc open /sandbox/inside.txt: %s\n", f >= 0 ? "ok" : ename(errno));
  return 0;
}
