/* files.c — file I/O through wasi-libc: create, read, write, pread/pwrite,
 * seek, truncate, stat/fstat/lstat, utimes/futimens, fsync/fdatasync,
 * readv/writev, append, stdio, access, error cases. Runs in /sandbox. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

static void show_stat(const char *what, const struct stat *st) {
  printf("%s: size %lld, regular %s, dir %s, link %s, nlink %llu\n", what, (long long)st->st_size,
         yn(S_ISREG(st->st_mode)), yn(S_ISDIR(st->st_mode)), yn(S_ISLNK(st->st_mode)),
         (unsigned long long)st->st_nlink);
}

int main(void) {
  char buf[256];
  struct stat st;
  res("chdir /sandbox", chdir("/sandbox"));
  printf("getcwd: %s\n", getcwd(buf, sizeof buf) ? buf : ename(errno));

  int fd = open("f.txt", O_CREAT | O_RDWR | O_EXCL, 0644);
  res("open create", fd);
  val("write", write(fd, "hello world\n", 12));
  val("tell after write", lseek(fd, 0, SEEK_CUR));
  val("seek set 0", lseek(fd, 0, SEEK_SET));
  memset(buf, 0, sizeof buf);
  val("read 5", read(fd, buf, 5));
  printf("read data: %s\n", buf);
  memset(buf, 0, sizeof buf);
  val("pread 5 at 6", pread(fd, buf, 5, 6));
  printf("pread data: %s\n", buf);
  val("tell after pread", lseek(fd, 0, SEEK_CUR));
  val("pwrite 5 at 6", pwrite(fd, "WORLD", 5, 6));
  val("tell after pwrite", lseek(fd, 0, SEEK_CUR));
  memset(buf, 0, sizeof buf);
  val("read rest", read(fd, buf, sizeof buf - 1));
  printf("rest data: %s", buf);
  val("read at eof", read(fd, buf, 10));
  val("seek end", lseek(fd, 0, SEEK_END));
  val("seek end -3", lseek(fd, -3, SEEK_END));
  val("seek cur +1", lseek(fd, 1, SEEK_CUR));
  val("seek negative", lseek(fd, -100, SEEK_SET));
  val("seek 100", lseek(fd, 100, SEEK_SET));
  val("write past end", write(fd, "x", 1));
  res("fstat", fstat(fd, &st));
  show_stat("fstat", &st);
  memset(buf, 1, sizeof buf);
  val("pread hole", pread(fd, buf, 4, 50));
  printf("hole bytes zero: %s\n", yn(!buf[0] && !buf[1] && !buf[2] && !buf[3]));
  res("ftruncate 5", ftruncate(fd, 5));
  fstat(fd, &st);
  printf("size after shrink: %lld\n", (long long)st.st_size);
  res("ftruncate 20", ftruncate(fd, 20));
  fstat(fd, &st);
  printf("size after grow: %lld\n", (long long)st.st_size);
  memset(buf, 1, sizeof buf);
  val("pread all", pread(fd, buf, sizeof buf, 0));
  int zeros = 0;
  for (int i = 5; i < 20; i++) zeros += buf[i] == 0;
  printf("prefix: %.5s, zero tail bytes: %d\n", buf, zeros);
  res("fsync", fsync(fd));
  res("fdatasync", fdatasync(fd));
  val("posix_fallocate", posix_fallocate(fd, 0, 4096));
  fstat(fd, &st);
  printf("size after fallocate: %lld\n", (long long)st.st_size);
  val("posix_fadvise", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));

  /* Vectored I/O. */
  struct iovec wv[2] = {{"abc", 3}, {"defg", 4}};
  val("seek 0", lseek(fd, 0, SEEK_SET));
  val("writev", writev(fd, wv, 2));
  char a[2] = "", b[5] = "";
  struct iovec rv[2] = {{a, 2}, {b, 5}};
  val("seek 0 again", lseek(fd, 0, SEEK_SET));
  val("readv", readv(fd, rv, 2));
  printf("readv data: %.2s|%.5s\n", a, b);
  struct iovec pw[2] = {{"XY", 2}, {"Z", 1}};
  val("pwritev", pwritev(fd, pw, 2, 1));
  char c3[4] = "";
  struct iovec pr[1] = {{c3, 3}};
  val("preadv", preadv(fd, pr, 1, 1));
  printf("preadv data: %.3s\n", c3);
  printf("isatty file: %d (%s)\n", isatty(fd), ename(errno));
  res("close", close(fd));
  res("close again", close(fd));

  res("stat", stat("f.txt", &st));
  show_stat("stat", &st);
  res("lstat", lstat("f.txt", &st));
  show_stat("lstat", &st);

  /* Timestamps. */
  fd = open("f.txt", O_RDWR);
  res("open rdwr", fd);
  struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
  res("futimens", futimens(fd, ts));
  fstat(fd, &st);
  printf("atime: %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
  printf("mtime: %lld.%09ld\n", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  struct timeval tv[2] = {{1600000000, 250000}, {1600000001, 500000}};
  res("utimes", utimes("f.txt", tv));
  stat("f.txt", &st);
  printf("atime: %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
  printf("mtime: %lld.%09ld\n", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  /* Debian's wasi-libc (2022-05, built with clang 14) miscompiles
   * utimens_get_timestamps: UTIME_NOW/UTIME_OMIT in the mtime slot make
   * utimensat/futimens fail with EINVAL before any WASI call (fixed
   * upstream by forcing the helper out of line). So the libc call is
   * expected to fail, and the runtime's MTIM_NOW is tested directly. */
  struct timespec now_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  res("utimensat omit/now (wasi-libc bug)", utimensat(AT_FDCWD, "f.txt", now_omit, 0));
  wres("raw set_times MTIM_NOW",
       __wasi_path_filestat_set_times(PREOPEN, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "f.txt", 0, 0,
                                      __WASI_FSTFLAGS_MTIM_NOW));
  stat("f.txt", &st);
  printf("atime kept: %s\n", yn(st.st_atim.tv_sec == 1600000000));
  printf("mtime is now: %s\n", yn(st.st_mtim.tv_sec > 1700000000));
  close(fd);

  /* Append mode and rights. */
  fd = open("f.txt", O_WRONLY | O_APPEND);
  res("open append", fd);
  printf("append flag: %s\n", yn(fcntl(fd, F_GETFL) & O_APPEND));
  val("write append", write(fd, "END", 3));
  fstat(fd, &st);
  printf("size after append: %lld\n", (long long)st.st_size);
  val("read on write-only fd", read(fd, buf, 1));
  close(fd);
  fd = open("f.txt", O_RDONLY);
  val("write on read-only fd", write(fd, "x", 1));
  memset(buf, 0, sizeof buf);
  val("pread tail", pread(fd, buf, 3, 4096));
  printf("tail: %s\n", buf);
  close(fd);

  /* Error cases. */
  val("open missing", open("missing.txt", O_RDONLY));
  val("open exclusive existing", open("f.txt", O_CREAT | O_EXCL | O_WRONLY, 0644));
  val("open dir for writing", open(".", O_WRONLY));
  val("open below a file", open("f.txt/x", O_RDONLY));
  val("open file as directory", open("f.txt", O_RDONLY | O_DIRECTORY));
  val("open missing parent", open("nodir/x.txt", O_CREAT | O_WRONLY, 0644));
  val("read bad fd", read(77, buf, 1));
  val("fstat bad fd", fstat(77, &st));
  res("access rw", access("f.txt", R_OK | W_OK));
  res("access missing", access("nope", F_OK));

  /* O_TRUNC. */
  fd = open("f.txt", O_WRONLY | O_TRUNC);
  fstat(fd, &st);
  printf("size after O_TRUNC: %lld\n", (long long)st.st_size);
  close(fd);

  /* stdio on top. */
  FILE *f = fopen("s.txt", "w");
  printf("fopen w: %s\n", yn(f != NULL));
  for (int i = 0; i < 100; i++) fprintf(f, "line %d\n", i);
  printf("fclose: %d\n", fclose(f));
  f = fopen("s.txt", "r");
  int lines = 0;
  char last[32] = "";
  while (fgets(buf, sizeof buf, f)) {
    lines++;
    snprintf(last, sizeof last, "%s", buf);
  }
  printf("fgets lines: %d, last: %s", lines, last);
  printf("fseek: %d\n", fseek(f, 7, SEEK_SET));
  printf("ftell: %ld\n", ftell(f));
  printf("fgets after seek: %s", fgets(buf, sizeof buf, f));
  fclose(f);
  res("truncate", truncate("s.txt", 3));
  stat("s.txt", &st);
  printf("size after truncate: %lld\n", (long long)st.st_size);
  f = fopen("missing/x", "r");
  printf("fopen missing: %s\n", f ? "opened" : ename(errno));

  /* Large write and read back. */
  enum { BIG = 1 << 20 };
  char *big = malloc(BIG), *back = malloc(BIG);
  for (int i = 0; i < BIG; i++) big[i] = (char)(i * 7 + (i >> 8));
  fd = open("big.bin", O_CREAT | O_RDWR, 0644);
  long w = 0;
  while (w < BIG) {
    long n = write(fd, big + w, BIG - w);
    if (n <= 0) break;
    w += n;
  }
  printf("big written: %ld\n", w);
  lseek(fd, 0, SEEK_SET);
  long r = 0;
  while (r < BIG) {
    long n = read(fd, back + r, BIG - r);
    if (n <= 0) break;
    r += n;
  }
  printf("big read: %ld, equal: %s\n", r, yn(r == BIG && !memcmp(big, back, BIG)));
  close(fd);

  /* 64-bit offsets: a sparse file past 4 GiB. */
  fd = open("sparse.bin", O_CREAT | O_RDWR, 0644);
  val("seek 5 GiB", lseek(fd, 5LL << 30, SEEK_SET));
  val("write at 5 GiB", write(fd, "z", 1));
  fstat(fd, &st);
  printf("sparse size: %lld\n", (long long)st.st_size);
  memset(buf, 0, sizeof buf);
  val("pread at 5 GiB", pread(fd, buf, 4, 5LL << 30));
  printf("pread data: %s\n", buf);
  val("pwrite at 6 GiB", pwrite(fd, "y", 1, 6LL << 30));
  fstat(fd, &st);
  printf("sparse size: %lld\n", (long long)st.st_size);
  close(fd);
  res("remove sparse.bin", remove("sparse.bin"));

  /* fcntl flags and fdopen. */
  fd = open("g.txt", O_CREAT | O_RDWR, 0644);
  write(fd, "0123456789", 10);
  printf("append before F_SETFL: %s\n", yn(fcntl(fd, F_GETFL) & O_APPEND));
  res("fcntl F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND));
  printf("append after F_SETFL: %s\n", yn(fcntl(fd, F_GETFL) & O_APPEND));
  lseek(fd, 0, SEEK_SET);
  write(fd, "A", 1);
  fstat(fd, &st);
  printf("size after appending write: %lld\n", (long long)st.st_size);
  res("fcntl F_SETFL 0", fcntl(fd, F_SETFL, 0));
  printf("fcntl F_GETFD: %d\n", fcntl(fd, F_GETFD));
  lseek(fd, 0, SEEK_SET);
  FILE *g = fdopen(fd, "r");
  printf("fdopen: %s\n", yn(g != NULL));
  printf("fgets via fdopen: %s\n", fgets(buf, sizeof buf, g) ? buf : "(null)");
  fclose(g);
  res("remove g.txt", remove("g.txt"));
  res("mkdir rmme", mkdir("rmme", 0755));
  res("remove a directory", remove("rmme"));

  res("unlink f.txt", unlink("f.txt"));
  res("stat after unlink", stat("f.txt", &st));
  res("unlink again", unlink("f.txt"));
  unlink("s.txt");
  unlink("big.bin");
  return 0;
}
