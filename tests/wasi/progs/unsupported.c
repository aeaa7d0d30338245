/* unsupported.c — calls with no meaning in wagi's world, as src/wasi/wasi.h
 * defines them: proc_raise gives ENOSYS, the socket calls ENOTSOCK (EBADF on a closed fd). Not run
 * under Node: its proc_raise really raises the signal in the node process. */
#include "common.h"

/* Not in this wasi-libc's api.h any more (dropped from later snapshots). */
int32_t imp_proc_raise(int32_t sig) WASI_IMPORT("proc_raise");

int main(void) {
  printf("proc_raise SIGTERM: %s\n", ename(imp_proc_raise(15 /* TERM */)));
  __wasi_fd_t fd;
  wres("sock_accept", __wasi_sock_accept(1, 0, &fd));
  char buf[8];
  __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
  __wasi_ciovec_t ciov = {(const uint8_t *)buf, sizeof buf};
  __wasi_size_t n;
  __wasi_roflags_t ro;
  wres("sock_recv", __wasi_sock_recv(1, &iov, 1, 0, &n, &ro));
  wres("sock_send", __wasi_sock_send(1, &ciov, 1, 0, &n));
  wres("sock_shutdown", __wasi_sock_shutdown(1, __WASI_SDFLAGS_RD));
  wres("sock_accept closed fd", __wasi_sock_accept(99, 0, &fd));
  wres("sock_recv closed fd", __wasi_sock_recv(99, &iov, 1, 0, &n, &ro));
  wres("sock_send closed fd", __wasi_sock_send(99, &ciov, 1, 0, &n));
  wres("sock_shutdown closed fd", __wasi_sock_shutdown(99, __WASI_SDFLAGS_RD));
  printf("still running: yes\n");
  return 0;
}
