/* esc_symlink_host.c — symlinks planted inside the sandbox by the host:
 *   etc_link -> /etc                  secret_link -> T/outside/secret.txt
 *   rel_up -> ../outside              sub/deep_up -> ../../outside/secret.txt
 *   ok_link -> inside.txt             dir_link -> sub (sub/file.txt "in sub")
 * Following any of the escaping ones must fail with ENOTCAPABLE; the links
 * themselves may be inspected (lstat, readlink) and removed. */
#include "common.h"

int main(void) {
  const __wasi_lookupflags_t F = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  try_read("etc_link/passwd", PREOPEN, F, "etc_link/passwd");
  try_read("secret_link", PREOPEN, F, "secret_link");
  try_read("rel_up/secret.txt", PREOPEN, F, "rel_up/secret.txt");
  try_read("sub/deep_up", PREOPEN, F, "sub/deep_up");
  try_read("dir_link/../rel_up/secret.txt", PREOPEN, F, "dir_link/../rel_up/secret.txt");
  try_read("etc_link/passwd without follow", PREOPEN, 0, "etc_link/passwd");
  try_read("secret_link without follow", PREOPEN, 0, "secret_link");
  try_read("ok_link", PREOPEN, F, "ok_link");
  try_read("dir_link/file.txt", PREOPEN, F, "dir_link/file.txt");
  __wasi_filestat_t st;
  wres("filestat follow etc_link", __wasi_path_filestat_get(PREOPEN, F, "etc_link", &st));
  wres("filestat follow secret_link", __wasi_path_filestat_get(PREOPEN, F, "secret_link", &st));
  wres("filestat nofollow etc_link", __wasi_path_filestat_get(PREOPEN, 0, "etc_link", &st));
  printf("etc_link is a symlink: %s\n", yn(st.filetype == __WASI_FILETYPE_SYMBOLIC_LINK));
  char buf[256];
  __wasi_size_t n = 0;
  wres("readlink etc_link",
       __wasi_path_readlink(PREOPEN, "etc_link", (uint8_t *)buf, sizeof buf, &n));
  printf("etc_link target: %.*s\n", (int)n, buf);
  __wasi_fd_t fd;
  wres("open etc_link as directory",
       raw_open(PREOPEN, F, "etc_link", __WASI_OFLAGS_DIRECTORY, &fd));
  wres("create_directory rel_up/newdir", __wasi_path_create_directory(PREOPEN, "rel_up/newdir"));
  wres("create rel_up/created.txt",
       __wasi_path_open(PREOPEN, F, "rel_up/created.txt", __WASI_OFLAGS_CREAT,
                        __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
  wres("truncate via secret_link", __wasi_path_open(PREOPEN, F, "secret_link", __WASI_OFLAGS_TRUNC,
                                                    __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
  wres("set_times via secret_link",
       __wasi_path_filestat_set_times(PREOPEN, F, "secret_link", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
  wres("unlink rel_up/victim.txt", __wasi_path_unlink_file(PREOPEN, "rel_up/victim.txt"));
  wres("rename rel_up/victim.txt -> got.txt",
       __wasi_path_rename(PREOPEN, "rel_up/victim.txt", PREOPEN, "got.txt"));
  wres("rename inside.txt -> rel_up/moved.txt",
       __wasi_path_rename(PREOPEN, "inside.txt", PREOPEN, "rel_up/moved.txt"));
  wres("link follow secret_link -> stolen",
       __wasi_path_link(PREOPEN, F, "secret_link", PREOPEN, "stolen"));
  wres("symlink rel_up/planted", __wasi_path_symlink("x", PREOPEN, "rel_up/planted"));
  wres("unlink etc_link (the link itself)", __wasi_path_unlink_file(PREOPEN, "etc_link"));
  wres("filestat etc_link after unlink", __wasi_path_filestat_get(PREOPEN, 0, "etc_link", &st));
  return 0;
}
