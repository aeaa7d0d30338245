/* esc_dotdot.c — climbing out with "..". The harness lays out
 *   T/outside/secret.txt, T/outside/victim.txt, T/outside/dir/
 *   T/sandbox/inside.txt ("inside"), T/sandbox/sub/
 * and preopens T/sandbox as /sandbox (fd 3). Every call that would touch
 * anything outside must fail with ENOTCAPABLE; the harness then checks that
 * nothing outside changed. */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  try_read("../outside/secret.txt", PREOPEN, 0, "../outside/secret.txt");
  try_read("../../../../../../etc/passwd", PREOPEN, 0, "../../../../../../etc/passwd");
  try_read("sub/../../outside/secret.txt", PREOPEN, 0, "sub/../../outside/secret.txt");
  try_read("./../sandbox/inside.txt", PREOPEN, 0, "./../sandbox/inside.txt");
  try_read("..", PREOPEN, 0, "..");
  try_read("sub/../inside.txt (stays inside)", PREOPEN, 0, "sub/../inside.txt");
  try_read("sub/./../inside.txt (stays inside)", PREOPEN, 0, "sub/./../inside.txt");
  __wasi_filestat_t st;
  wres("filestat ../outside/secret.txt",
       __wasi_path_filestat_get(PREOPEN, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "../outside/secret.txt",
                                &st));
  wres("filestat ..", __wasi_path_filestat_get(PREOPEN, 0, "..", &st));
  wres("create_directory ../newdir", __wasi_path_create_directory(PREOPEN, "../newdir"));
  wres("unlink ../outside/victim.txt", __wasi_path_unlink_file(PREOPEN, "../outside/victim.txt"));
  wres("remove_directory ../outside/dir", __wasi_path_remove_directory(PREOPEN, "../outside/dir"));
  wres("rename inside.txt -> ../outside/moved.txt",
       __wasi_path_rename(PREOPEN, "inside.txt", PREOPEN, "../outside/moved.txt"));
  wres("rename ../outside/victim.txt -> stolen.txt",
       __wasi_path_rename(PREOPEN, "../outside/victim.txt", PREOPEN, "stolen.txt"));
  wres("set_times ../outside/victim.txt",
       __wasi_path_filestat_set_times(PREOPEN, 0, "../outside/victim.txt", 0, 0,
                                      __WASI_FSTFLAGS_MTIM_NOW));
  wres("symlink at ../outside/newlink",
       __wasi_path_symlink("inside.txt", PREOPEN, "../outside/newlink"));
  wres("link inside.txt -> ../outside/newhard",
       __wasi_path_link(PREOPEN, 0, "inside.txt", PREOPEN, "../outside/newhard"));
  __wasi_fd_t fd;
  wres("create ../outside/created.txt",
       __wasi_path_open(PREOPEN, 0, "../outside/created.txt", __WASI_OFLAGS_CREAT,
                        __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
  wres("truncate ../outside/victim.txt",
       __wasi_path_open(PREOPEN, 0, "../outside/victim.txt", __WASI_OFLAGS_TRUNC,
                        __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
  char buf[64];
  __wasi_size_t n;
  wres("readlink ../outside/link",
       __wasi_path_readlink(PREOPEN, "../outside/link", (uint8_t *)buf, sizeof buf, &n));

  /* Through libc, with its emulated cwd. */
  res("libc chdir /sandbox", chdir("/sandbox"));
  int f = open("../outside/secret.txt", O_RDONLY);
  printf("libc open ../outside/secret.txt: %s\n", f >= 0 ? "OPENED" : ename(errno));
  f = open("/sandbox/../outside/victim.txt", O_WRONLY | O_TRUNC);
  printf("libc open /sandbox/../outside/victim.txt: %s\n", f >= 0 ? "OPENED" : ename(errno));
  return 0;
}
