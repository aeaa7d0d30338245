/* esc_hardlink.c — path_link must not bring an outside file in, nor put a
 * link to an inside file outside. (A hard link to an outside file that
 * already exists inside the tree before the module runs is out of scope:
 * it is the host's own doing and indistinguishable from a regular file.)
 * The host planted secret_link -> T/outside/secret.txt (absolute). */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  const __wasi_lookupflags_t F = __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW;
  res("chdir /sandbox", chdir("/sandbox"));
  res("libc link ../outside/secret.txt -> stolen", link("../outside/secret.txt", "stolen"));
  wres("path_link ../outside/secret.txt -> stolen",
       __wasi_path_link(PREOPEN, 0, "../outside/secret.txt", PREOPEN, "stolen"));
  wres("path_link follow ../outside/secret.txt -> stolen",
       __wasi_path_link(PREOPEN, F, "../outside/secret.txt", PREOPEN, "stolen"));
  wres("path_link /etc/passwd -> pw", __wasi_path_link(PREOPEN, 0, "/etc/passwd", PREOPEN, "pw"));
  wres("path_link inside.txt -> ../outside/planted",
       __wasi_path_link(PREOPEN, 0, "inside.txt", PREOPEN, "../outside/planted"));
  wres("path_link follow secret_link -> stolen2",
       __wasi_path_link(PREOPEN, F, "secret_link", PREOPEN, "stolen2"));
  /* Without follow, Linux links the symlink itself; whether the runtime
   * allows that or not, following the copy must not leave the sandbox. */
  __wasi_errno_t e = __wasi_path_link(PREOPEN, 0, "secret_link", PREOPEN, "linkcopy");
  if (e == 0) {
    __wasi_fd_t fd;
    __wasi_errno_t e2 = raw_open(PREOPEN, F, "linkcopy", 0, &fd);
    printf("link to the symlink itself: safe %s\n", yn(e2 == __WASI_ERRNO_NOTCAPABLE));
  } else {
    printf("link to the symlink itself: safe %s\n", yn(1));
  }
  try_read("stolen", PREOPEN, F, "stolen");
  res("libc link inside.txt -> hard_in", link("inside.txt", "hard_in"));
  struct stat st;
  stat("inside.txt", &st);
  printf("inside.txt nlink: %llu\n", (unsigned long long)st.st_nlink);
  try_read("hard_in", PREOPEN, F, "hard_in");
  return 0;
}
