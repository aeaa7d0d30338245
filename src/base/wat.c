/* wat.c — binary-or-WAT module files; WAT through wabt's wat2wasm. */
#include "base/wat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/file.h"

extern char **environ;

/* wat2wasm's output is read up to this size; what is shown of it less. */
#define WAT_MAX_OUTPUT 2048
#define WAT_MAX_WASM ((size_t)1 << 30)

bool base_wasm_is_binary(const uint8_t *b, size_t len) {
  return len >= 4 && memcmp(b, "\0asm", 4) == 0;
}

bool base_wat_looks_like(const uint8_t *b, size_t len) {
  if (!b || memchr(b, 0, len)) return false;
  size_t i = 0;
  if (len >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) i = 3;
  while (i < len) {
    uint8_t c = b[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i++;
    } else if (c == ';' && i + 1 < len && b[i + 1] == ';') {
      while (i < len && b[i] != '\n') i++;
    } else if (c == '(' && i + 1 < len && b[i + 1] == ';') {
      /* Block comments nest. */
      unsigned depth = 1;
      i += 2;
      while (i < len && depth) {
        if (b[i] == '(' && i + 1 < len && b[i + 1] == ';') depth++, i += 2;
        else if (b[i] == ';' && i + 1 < len && b[i + 1] == ')') depth--, i += 2;
        else i++;
      }
      if (depth) return false;
    } else {
      return c == '(';
    }
  }
  return false;
}

static const char *tmp_dir(void) {
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

/* Appends wat2wasm's output `out` to err after `prefix`, every mention of
 * the temporary input file replaced by `name`. */
static void describe_failure(char *err, size_t errlen, const char *name, const char *tmp_in,
                             const char *out) {
  size_t n = 0;
  int k = snprintf(err, errlen, "%.300s: not valid WAT (wat2wasm failed):\n", name);
  if (k < 0 || (size_t)k >= errlen) return;
  n = (size_t)k;
  size_t tl = strlen(tmp_in), nl = strlen(name);
  for (const char *p = out; *p && n + 1 < errlen;) {
    if (strncmp(p, tmp_in, tl) == 0) {
      size_t c = nl < errlen - 1 - n ? nl : errlen - 1 - n;
      memcpy(err + n, name, c);
      n += c;
      p += tl;
    } else {
      err[n++] = *p++;
    }
  }
  err[n] = 0;
}

base_wat_status base_wat_to_wasm(const uint8_t *text, size_t len, const char *name, uint8_t **out,
                                 size_t *outlen, char *err, size_t errlen) {
  char tmp_in[PATH_MAX], tmp_out[PATH_MAX];
  snprintf(tmp_in, sizeof tmp_in, "%s/wagi-wat-XXXXXX.wat", tmp_dir());
  snprintf(tmp_out, sizeof tmp_out, "%s/wagi-wat-XXXXXX.wasm", tmp_dir());
  int ifd = mkstemps(tmp_in, 4);
  if (ifd < 0) {
    base_set_err(err, errlen, "cannot create a temporary file for wat2wasm in %s: %s", tmp_dir(),
                 strerror(errno));
    return BASE_WAT_ERR_IO;
  }
  int ofd = mkstemps(tmp_out, 5);
  if (ofd < 0) {
    base_set_err(err, errlen, "cannot create a temporary file for wat2wasm in %s: %s", tmp_dir(),
                 strerror(errno));
    close(ifd);
    unlink(tmp_in);
    return BASE_WAT_ERR_IO;
  }
  close(ofd);
  base_wat_status st = BASE_WAT_ERR_IO;
  int pfd[2] = {-1, -1};
  if (base_write_all(ifd, text, len) != 0) {
    base_set_err(err, errlen, "cannot write the temporary file %s for wat2wasm: %s", tmp_in,
                 strerror(errno));
    close(ifd);
    goto out;
  }
  close(ifd);
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    base_set_err(err, errlen, "cannot run wat2wasm: pipe: %s", strerror(errno));
    goto out;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
  char *args[] = {"wat2wasm", tmp_in, "-o", tmp_out, NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, "wat2wasm", &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (rc != 0) {
    base_set_err(err, errlen,
                 "%.300s: WAT text, but wat2wasm (wabt) could not be run to convert it: %s", name,
                 strerror(rc));
    close(pfd[0]);
    goto out;
  }
  char msg[WAT_MAX_OUTPUT];
  size_t mn = 0;
  for (;;) {
    ssize_t r = read(pfd[0], msg + mn, sizeof msg - 1 - mn);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    mn += (size_t)r;
    if (mn == sizeof msg - 1) {
      char sink[512]; /* keep draining so that the child can exit */
      while (read(pfd[0], sink, sizeof sink) > 0) {}
      break;
    }
  }
  msg[mn] = 0;
  close(pfd[0]);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
    while (mn > 0 && (msg[mn - 1] == '\n' || msg[mn - 1] == ' ')) msg[--mn] = 0;
    describe_failure(err, errlen > 1400 ? 1400 : errlen, name, tmp_in, msg);
    st = BASE_WAT_INVALID;
    goto out;
  }
  base_file_status fs = base_read_file(tmp_out, WAT_MAX_WASM, 0, out, outlen, err, errlen);
  st = fs == BASE_FILE_OK          ? BASE_WAT_OK
       : fs == BASE_FILE_ERR_NOMEM ? BASE_WAT_ERR_NOMEM
                                   : BASE_WAT_ERR_IO;
out:
  unlink(tmp_in);
  unlink(tmp_out);
  return st;
}

base_wat_status base_load_module_file(const char *path, size_t max, unsigned flags, uint8_t **out,
                                      size_t *outlen, bool *was_wat, char *err, size_t errlen) {
  uint8_t *bytes;
  size_t len;
  if (was_wat) *was_wat = false;
  base_file_status fs = base_read_file(path, max, flags, &bytes, &len, err, errlen);
  if (fs != BASE_FILE_OK) return fs == BASE_FILE_ERR_NOMEM ? BASE_WAT_ERR_NOMEM : BASE_WAT_ERR_IO;
  /* a .wasmc (native code from wagi compile) is an ELF file: the engine
   * checks it */
  if (base_wasm_is_binary(bytes, len) || (len >= 4 && !memcmp(bytes, "\177ELF", 4))) {
    *out = bytes;
    *outlen = len;
    return BASE_WAT_OK;
  }
  if (!base_wat_looks_like(bytes, len)) {
    free(bytes);
    base_set_err(err, errlen,
                 "%s: neither a WebAssembly module (no \\0asm header) nor WAT text (which starts "
                 "with \"(\"; nor native code from wagi compile)",
                 path);
    return BASE_WAT_NOT_MODULE;
  }
  base_wat_status st = base_wat_to_wasm(bytes, len, path, out, outlen, err, errlen);
  free(bytes);
  if (st == BASE_WAT_OK && was_wat) *was_wat = true;
  return st;
}
