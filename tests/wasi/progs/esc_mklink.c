/* esc_mklink.c — links the module makes itself. An absolute target is
 * refused with EPERM, a relative one that climbs above the preopen from
 * where the link is made with ENOTCAPABLE (src/wasi/wasi.h); a link that
 * only leads outside after being moved must still not be followed out. The
 * host placed T/inside.txt (a secret) right above the sandbox, so a
 * followed "../inside.txt" at the top would read it. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  const __wasi_lookupflags_t F = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  struct stat st;
  res("chdir /sandbox", chdir("/sandbox"));
  res("symlink abs_link -> /etc", symlink("/etc", "abs_link"));
  res("symlink up_link -> ../outside", symlink("../outside", "up_link"));
  res("symlink sneaky -> sub/../../outside/secret.txt",
      symlink("sub/../../outside/secret.txt", "sneaky"));
  res("symlink updown -> ../sandbox/inside.txt", symlink("../sandbox/inside.txt", "updown"));
  res("lstat abs_link", lstat("abs_link", &st));
  res("lstat up_link", lstat("up_link", &st));
  res("lstat sneaky", lstat("sneaky", &st));
  res("lstat updown", lstat("updown", &st));
  res("mkdir sub2", mkdir("sub2", 0755));
  res("symlink sub2/x -> ../inside.txt", symlink("../inside.txt", "sub2/x"));
  try_read("sub2/x", PREOPEN, F, "sub2/x");
  res("symlink sub2/y -> ../../outside/secret.txt", symlink("../../outside/secret.txt", "sub2/y"));
  res("symlink sub2/up1 -> ..", symlink("..", "sub2/up1"));
  try_read("sub2/up1/inside.txt", PREOPEN, F, "sub2/up1/inside.txt");
  try_read("sub2/up1/../outside/secret.txt", PREOPEN, F, "sub2/up1/../outside/secret.txt");
  try_read("sub2/up1/../inside.txt", PREOPEN, F, "sub2/up1/../inside.txt");
  /* Move a link that is harmless where it was made to the top, where the
   * same relative target points above the sandbox. */
  res("rename sub2/x -> moved", rename("sub2/x", "moved"));
  try_read("moved (now points to ../inside.txt)", PREOPEN, F, "moved");
  __wasi_filestat_t wst;
  wres("filestat follow moved", __wasi_path_filestat_get(PREOPEN, F, "moved", &wst));
  /* Move a directory holding an up-pointing link one level up: the link
   * sub2/deeper/up -> ../x is fine in sub2/deeper... */
  res("mkdir sub2/deeper", mkdir("sub2/deeper", 0755));
  res("symlink sub2/deeper/up -> ../../inside.txt", symlink("../../inside.txt", "sub2/deeper/up"));
  try_read("sub2/deeper/up", PREOPEN, F, "sub2/deeper/up");
  res("rename sub2/deeper -> deeper", rename("sub2/deeper", "deeper"));
  try_read("deeper/up (now two levels above)", PREOPEN, F, "deeper/up");
  return 0;
}
