/* dirs.c — directories through wasi-libc: mkdir, opendir/readdir with many
 * entries (more than one fd_readdir buffer), rewinddir, telldir/seekdir,
 * scandir, fdopendir, rmdir, rename, unlink, the *at variants. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#define NFILES 300

/* Counts entries other than "." and "..": whether a runtime reports those
 * two is its own choice (wasmtime does, Node does not), so the tests never
 * print them. */
static int count_entries(DIR *d, int *regs, int *dirs, char *first, char *last) {
  int n = 0;
  struct dirent *e;
  first[0] = last[0] = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    if (e->d_type == DT_REG) (*regs)++;
    if (e->d_type == DT_DIR) (*dirs)++;
    if (!first[0] || strcmp(e->d_name, first) < 0) strcpy(first, e->d_name);
    if (strcmp(e->d_name, last) > 0) strcpy(last, e->d_name);
  }
  return n;
}

static int not_dot(const struct dirent *e) {
  return strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
}

int main(void) {
  char name[64], first[256], last[256];
  struct stat st;
  res("chdir /sandbox", chdir("/sandbox"));
  res("mkdir d", mkdir("d", 0755));
  res("mkdir d again", mkdir("d", 0755));
  res("stat d", stat("d", &st));
  printf("d is dir: %s\n", yn(S_ISDIR(st.st_mode)));
  int made = 0;
  for (int i = 0; i < NFILES; i++) {
    /* Long names make the listing span several fd_readdir calls. */
    snprintf(name, sizeof name, "d/file-%03d-with-a-rather-long-name-to-fill-buffers", i);
    int fd = open(name, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) {
      made++;
      close(fd);
    }
  }
  printf("files created: %d\n", made);
  res("mkdir d/sub", mkdir("d/sub", 0755));

  DIR *d = opendir("d");
  printf("opendir: %s\n", d ? "ok" : ename(errno));
  int regs = 0, dirs = 0;
  int n = count_entries(d, &regs, &dirs, first, last);
  printf("entries: %d (regular %d, dirs %d)\nfirst: %s\nlast: %s\n", n, regs, dirs, first, last);
  rewinddir(d);
  regs = dirs = 0;
  printf("entries after rewind: %d\n", count_entries(d, &regs, &dirs, first, last));
  rewinddir(d);
  for (int i = 0; i < 10; i++) readdir(d);
  long pos = telldir(d);
  struct dirent *e = readdir(d);
  char at_pos[256];
  snprintf(at_pos, sizeof at_pos, "%s", e ? e->d_name : "");
  for (int i = 0; i < 50; i++) readdir(d);
  seekdir(d, pos);
  e = readdir(d);
  printf("seekdir returns same entry: %s\n", yn(e && !strcmp(e->d_name, at_pos)));
  printf("dirfd valid: %s\n", yn(dirfd(d) >= 3));
  res("closedir", closedir(d));

  struct dirent **list;
  n = scandir("d", &list, not_dot, alphasort);
  printf("scandir: %d\n", n);
  if (n > 0) {
    printf("scandir first: %s\nscandir last: %s\n", list[0]->d_name, list[n - 1]->d_name);
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
  }

  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  res("open d as directory", dfd);
  d = fdopendir(dfd);
  printf("fdopendir: %s\n", d ? "ok" : ename(errno));
  regs = dirs = 0;
  printf("fdopendir entries: %d\n", count_entries(d, &regs, &dirs, first, last));
  closedir(d);
  d = opendir("missing");
  printf("opendir missing: %s\n", d ? "opened" : ename(errno));
  d = opendir("d/file-000-with-a-rather-long-name-to-fill-buffers");
  printf("opendir on a file: %s\n", d ? "opened" : ename(errno));

  /* Removal. */
  res("rmdir non-empty", rmdir("d"));
  res("rmdir a file", rmdir("d/file-000-with-a-rather-long-name-to-fill-buffers"));
  res("unlink a directory", unlink("d/sub"));
  int removed = 0;
  for (int i = 0; i < NFILES; i++) {
    snprintf(name, sizeof name, "d/file-%03d-with-a-rather-long-name-to-fill-buffers", i);
    removed += unlink(name) == 0;
  }
  printf("files removed: %d\n", removed);
  res("rmdir d/sub", rmdir("d/sub"));
  res("rmdir d", rmdir("d"));
  res("stat d after rmdir", stat("d", &st));
  res("rmdir missing", rmdir("d"));

  /* Rename. */
  int fd = open("a.txt", O_CREAT | O_WRONLY, 0644);
  write(fd, "A", 1);
  close(fd);
  fd = open("b.txt", O_CREAT | O_WRONLY, 0644);
  write(fd, "BB", 2);
  close(fd);
  res("rename a->c", rename("a.txt", "c.txt"));
  res("stat a after rename", stat("a.txt", &st));
  stat("c.txt", &st);
  printf("c size: %lld\n", (long long)st.st_size);
  res("rename c over b", rename("c.txt", "b.txt"));
  stat("b.txt", &st);
  printf("b size after replace: %lld\n", (long long)st.st_size);
  res("rename missing", rename("nothing", "x"));
  mkdir("m1", 0755);
  mkdir("m2", 0755);
  fd = open("m2/keep", O_CREAT | O_WRONLY, 0644);
  close(fd);
  res("rename dir onto non-empty dir", rename("m1", "m2"));
  res("rename dir into itself", rename("m1", "m1/inner"));
  res("rename file onto dir", rename("b.txt", "m1"));
  res("rename dir onto file", rename("m1", "b.txt"));
  res("rename dir", rename("m1", "m3"));
  res("stat m3", stat("m3", &st));
  printf("m3 is dir: %s\n", yn(S_ISDIR(st.st_mode)));
  res("rename file into dir", rename("b.txt", "m3/b.txt"));
  res("stat m3/b.txt", stat("m3/b.txt", &st));

  /* *at variants relative to a directory fd. */
  dfd = open("m3", O_RDONLY | O_DIRECTORY);
  res("mkdirat", mkdirat(dfd, "inner", 0755));
  res("fstatat", fstatat(dfd, "inner", &st, 0));
  printf("inner is dir: %s\n", yn(S_ISDIR(st.st_mode)));
  res("renameat", renameat(dfd, "inner", dfd, "inner2"));
  res("openat create", fd = openat(dfd, "inner2/z", O_CREAT | O_WRONLY, 0644));
  close(fd);
  res("unlinkat file", unlinkat(dfd, "inner2/z", 0));
  res("unlinkat dir", unlinkat(dfd, "inner2", AT_REMOVEDIR));
  res("unlinkat b", unlinkat(dfd, "b.txt", 0));
  close(dfd);
  res("rmdir m3", rmdir("m3"));
  unlink("m2/keep");
  res("rmdir m2", rmdir("m2"));
  d = opendir(".");
  regs = dirs = 0;
  printf("sandbox entries at end: %d\n", count_entries(d, &regs, &dirs, first, last));
  closedir(d);
  return 0;
}
