/* native.c — native code for the server's .wasm modules (docs/server.md §Native code).
 *
 * With --module-cache DIR (and --tier auto, the default), each .wasm or WAT
 * module is looked up in DIR under the name wasm_native_cache_name gives
 * (its SHA-256, the engine's native-code ABI, and the C compiler's
 * identity: the first line of its --version and the flags, hashed), which
 * `wagi run` uses with WAGI_MODULE_CACHE too. A usable entry
 * runs natively from the first request. Otherwise the route starts on the
 * interpreter and one background thread compiles the queued modules one
 * after another (wasm_module_compile_native writes the .wasmc atomically),
 * loads each and swaps it into srv_module.module; requests already running
 * keep their interpreter instances, whose module stays alive until
 * shutdown. A module that fails to compile, or a machine without a C
 * compiler, stays on the interpreter with one log line.
 *
 * With --tier aot, srv_native_require does the same lookup and compile for
 * every .wasm module during startup, before the server listens, and a
 * module that cannot be compiled stops the server. Without --module-cache
 * the cache is a private temporary directory (srv_native_open_temp),
 * removed once every module is loaded: the code is mapped from a copy in
 * memory, not from the file.
 *
 * A .wasmc is native code the server maps into itself, so the cache
 * directory must be private: it is created 0700, and an existing one that
 * another user owns or that group or others may write is refused. Every
 * file operation after that check goes through the directory's descriptor
 * (as /proc/self/fd/N/...), so replacing the directory later (in a parent
 * others may write) cannot redirect it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/file.h"
#include "server_int.h"

/* How long shutdown waits for the compiler thread once the compiler
 * process is killed: the translation itself (in-process, before the
 * compiler runs) cannot be interrupted. */
#define NATIVE_STOP_MS 3000u
/* A .wasmc holds the module and its code: read at most this much. */
#define NATIVE_MAX_BYTES ((size_t)1 << 31)

static struct {
  bool open;          /* cache directory checked and held */
  bool enabled;       /* ... and the compiler has not been found missing */
  bool temp;          /* a private temporary directory (--tier aot alone): removed by
                         srv_native_start, or at shutdown */
  int dirfd;          /* the checked cache directory */
  char dir[PATH_MAX]; /* as given, for messages */
  char fdpath[64];    /* "/proc/self/fd/N": paths resolve through dirfd */
  char cc[256];       /* $CC, else "cc" */
  pthread_t thread;
  bool started;
  _Atomic int cancel;
  _Atomic int done; /* the thread has finished */
  srv_module *mods;
  size_t nmods;
  bool aot;                          /* srv_native_require has run (--tier aot) */
  unsigned aot_compiled, aot_cached; /* --tier aot: modules compiled, found in the cache */
} N = {.dirfd = -1};

/* ---- The cache directory ------------------------------------------------------------- */

/* mkdir -p: missing parents as mkdir(1) makes them (0755 less the umask),
 * the leaf 0700 (it holds the code; its parents hold nothing). */
static int make_dirs(const char *path, char *err, size_t errlen) {
  char buf[PATH_MAX];
  if (strlen(path) >= sizeof buf) {
    base_set_err(err, errlen, "--module-cache: the path is too long");
    return -1;
  }
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      base_set_err(err, errlen, "--module-cache %s: cannot create %s: %s", path, buf,
                   strerror(errno));
      return -1;
    }
    *p = '/';
  }
  if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
    base_set_err(err, errlen, "--module-cache %s: cannot create it: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* Opens and checks the cache directory into N.dirfd. */
static srv_status open_dir(const char *dir, char *err, size_t errlen) {
  if (!*dir) {
    base_set_err(err, errlen, "--module-cache: the directory name is empty");
    return SRV_ERR_INVALID;
  }
  if (make_dirs(dir, err, errlen) != 0) return SRV_ERR_SYSTEM;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    base_set_err(err, errlen, "--module-cache %s: %s", dir,
                 errno == ENOTDIR ? "not a directory" : strerror(errno));
    return errno == ENOTDIR ? SRV_ERR_INVALID : SRV_ERR_SYSTEM;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    base_set_err(err, errlen, "--module-cache %s: %s", dir, strerror(errno));
    close(fd);
    return SRV_ERR_SYSTEM;
  }
  if (st.st_uid != geteuid()) {
    base_set_err(err, errlen,
                 "--module-cache %s: owned by uid %u, not by the server's uid %u; the cache "
                 "holds native code the server runs, so it must be the server's own "
                 "directory (mode 0700)",
                 dir, (unsigned)st.st_uid, (unsigned)geteuid());
    close(fd);
    return SRV_ERR_INVALID;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    base_set_err(err, errlen,
                 "--module-cache %s: writable by %s (mode %04o); the cache holds native code "
                 "the server runs, so another user could replace it: chmod 700 %s",
                 dir, (st.st_mode & S_IWOTH) ? "others" : "its group",
                 (unsigned)(st.st_mode & 07777), dir);
    close(fd);
    return SRV_ERR_INVALID;
  }
  N.dirfd = fd;
  snprintf(N.dir, sizeof N.dir, "%s", dir);
  snprintf(N.fdpath, sizeof N.fdpath, "/proc/self/fd/%d", fd);
  N.open = true;
  return SRV_OK;
}

srv_status srv_native_open(const char *dir, char *err, size_t errlen) {
  srv_status st = open_dir(dir, err, errlen);
  if (st != SRV_OK) return st;
  /* The same compiler `wagi compile` and `wagi run` use; whether it runs
   * is found out by the first module's lookup (wasm_native_cache_name). */
  const char *cc = getenv("CC");
  snprintf(N.cc, sizeof N.cc, "%s", cc && *cc ? cc : "cc");
  N.enabled = true;
  return SRV_OK;
}

srv_status srv_native_open_temp(const char *tmpdir, char *err, size_t errlen) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s/wagi-native-XXXXXX", tmpdir) >= (int)sizeof dir) {
    base_set_err(err, errlen, "--tier aot: the temporary directory's path is too long");
    return SRV_ERR_INVALID;
  }
  if (!mkdtemp(dir)) { /* mode 0700 */
    base_set_err(err, errlen,
                 "--tier aot: cannot create a temporary directory for native code in %s: %s",
                 tmpdir, strerror(errno));
    return SRV_ERR_SYSTEM;
  }
  srv_status st = srv_native_open(dir, err, errlen);
  if (st != SRV_OK) {
    rmdir(dir);
    return st;
  }
  N.temp = true;
  return SRV_OK;
}

/* Empties and removes the temporary directory of srv_native_open_temp.
 * Only the server writes there (it is 0700 and its own). */
static void remove_temp_dir(void) {
  if (!N.temp) return;
  N.temp = false;
  int fd = dup(N.dirfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
        (void)unlinkat(N.dirfd, e->d_name, 0);
    closedir(d);
  } else if (fd >= 0) {
    close(fd);
  }
  if (rmdir(N.dir) != 0)
    srv_log("cannot remove the temporary native-code directory %s: %s", N.dir, strerror(errno));
}

/* ---- Lookup ------------------------------------------------------------------------ */

typedef enum { CACHE_HIT, CACHE_MISS, CACHE_BAD } cache_result;

/* Loads cache entry `key` and checks that it is the code of `digest`.
 * CACHE_BAD: it exists but is not usable, why in err. */
static cache_result cache_load(const char *key, const uint8_t digest[32], wasm_module **out,
                               char *err, size_t errlen) {
  struct stat st;
  if (fstatat(N.dirfd, key, &st, 0) != 0) {
    if (errno == ENOENT) return CACHE_MISS;
    base_set_err(err, errlen, "%s", strerror(errno));
    return CACHE_BAD;
  }
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", N.fdpath, key);
  uint8_t *bytes = NULL;
  size_t len = 0;
  char e2[512];
  if (base_read_file(path, NATIVE_MAX_BYTES, BASE_FILE_REGULAR_ONLY, &bytes, &len, e2, sizeof e2) !=
      BASE_FILE_OK) {
    /* e2 names the /proc path: say only what went wrong */
    const char *colon = strstr(e2, ": ");
    base_set_err(err, errlen, "%s", colon ? colon + 2 : e2);
    return CACHE_BAD;
  }
  wasm_error werr;
  werr.msg[0] = 0;
  wasm_module *m = NULL;
  wasm_status s = wasm_is_native(bytes, len) ? wasm_module_load_native(bytes, len, &m, &werr)
                                             : WASM_ERR_MALFORMED;
  free(bytes);
  if (s != WASM_OK) {
    base_set_err(err, errlen, "%s",
                 werr.msg[0] ? werr.msg : "not a usable .wasmc: it is not native code");
    return CACHE_BAD;
  }
  uint8_t d[32];
  wasm_module_digest(m, d);
  if (memcmp(d, digest, 32) != 0) {
    wasm_module_free(m);
    base_set_err(err, errlen, "it holds the code of another module");
    return CACHE_BAD;
  }
  *out = m;
  return CACHE_HIT;
}

/* m->native_key for the interpreter's module `interp`: the name `wagi run`
 * uses too (WAGI_MODULE_CACHE), so both share the entries. It runs
 * `cc --version` once; -1 with why when that fails (no compiler). */
static int cache_key(srv_module *m, const wasm_module *interp, char *why, size_t whylen) {
  wasm_native_options o = {0};
  o.cc = N.cc;
  if (wasm_native_cache_name(interp, &o, m->native_key, sizeof m->native_key, why, whylen) == 0)
    return 0;
  m->native_key[0] = 0;
  return -1;
}

void srv_native_lookup(srv_module *m) {
  if (!N.enabled) return;
  wasm_module *interp = srv_module_current(m);
  if (!interp || wasm_module_is_native(interp)) return;
  uint8_t digest[32];
  wasm_module_digest(interp, digest);
  char why[512];
  if (cache_key(m, interp, why, sizeof why) != 0) {
    srv_log(
        "module cache %s: no C compiler (%s); .wasm modules run on the interpreter (name "
        "one with CC=...)",
        N.dir, why);
    N.enabled = false;
    return;
  }
  wasm_module *nat = NULL;
  switch (cache_load(m->native_key, digest, &nat, why, sizeof why)) {
  case CACHE_HIT:
    /* No request has seen the interpreter's module yet: freed now. */
    atomic_store_explicit(&m->module, nat, memory_order_release);
    wasm_module_free(interp);
    srv_log("route %s: native code from the module cache (%s/%s)", m->route, N.dir, m->native_key);
    return;
  case CACHE_BAD:
    srv_log("route %s: cached native code %s/%s is not usable (%s); compiling it again", m->route,
            N.dir, m->native_key, why);
    break;
  case CACHE_MISS: break;
  }
  m->native_pending = true;
}

/* ---- The background compiler ------------------------------------------------------- */

static int is_cancelled(void *arg) {
  (void)arg;
  return atomic_load(&N.cancel);
}

/* Replaces the interpreter's module of m with native code: new requests
 * get it, those in flight keep theirs (m->interp lives until shutdown). */
static void swap_in(srv_module *m, wasm_module *nat) {
  m->interp = srv_module_current(m);
  atomic_store_explicit(&m->module, nat, memory_order_release);
}

typedef enum { COMPILED, COMPILE_FAILED, LOAD_FAILED } compile_result;

/* Compiles `interp` into cache entry m->native_key (written under a
 * temporary name and renamed by wasm_module_compile_native) and loads it
 * into *out; otherwise why says what went wrong. */
static compile_result compile_to_cache(srv_module *m, const wasm_module *interp,
                                       const uint8_t digest[32], wasm_module **out, char *why,
                                       size_t whylen) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", N.fdpath, m->native_key);
  wasm_native_options o = {0};
  o.cc = N.cc;
  o.cancelled = is_cancelled;
  wasm_error werr;
  werr.msg[0] = 0;
  wasm_status s = wasm_module_compile_native(interp, &o, path, &werr);
  if (s != WASM_OK) {
    base_set_err(why, whylen, "%s", werr.msg[0] ? werr.msg : wasm_status_str(s));
    /* the compiler's last lines, joined, may end in a blank */
    for (size_t n = strlen(why); n > 0 && why[n - 1] == ' '; n--) why[n - 1] = 0;
    return COMPILE_FAILED;
  }
  return cache_load(m->native_key, digest, out, why, whylen) == CACHE_HIT ? COMPILED : LOAD_FAILED;
}

static void compile_one(srv_module *m) {
  wasm_module *interp = srv_module_current(m);
  uint8_t digest[32];
  wasm_module_digest(interp, digest);
  char why[600];
  wasm_module *nat = NULL;
  uint64_t t0 = base_now_ns();
  /* Another route with the same module may have put it there meanwhile. */
  if (cache_load(m->native_key, digest, &nat, why, sizeof why) == CACHE_HIT) {
    swap_in(m, nat);
    srv_log("route %s: native code ready (from the module cache); new requests run natively",
            m->route);
    return;
  }
  compile_result r = compile_to_cache(m, interp, digest, &nat, why, sizeof why);
  if (atomic_load(&N.cancel)) {
    if (r == COMPILED) wasm_module_free(nat);
    return; /* shutdown: not worth a line */
  }
  if (r == COMPILE_FAILED) {
    srv_log("route %s: compiling to native code failed: %s; the route stays on the interpreter",
            m->route, why);
    return;
  }
  if (r == LOAD_FAILED) {
    srv_log(
        "route %s: the native code just compiled (%s/%s) cannot be loaded: %s; the route "
        "stays on the interpreter",
        m->route, N.dir, m->native_key, why);
    return;
  }
  swap_in(m, nat);
  srv_log("route %s: native code ready (compiled in %" PRIu64 " ms); new requests run natively",
          m->route, (base_now_ns() - t0) / 1000000u);
}

static void *compiler_main(void *arg) {
  (void)arg;
  for (size_t i = 0; i < N.nmods && !atomic_load(&N.cancel); i++)
    if (N.mods[i].native_pending) compile_one(&N.mods[i]);
  atomic_store(&N.done, 1);
  return NULL;
}

/* ---- --tier aot: compiled before serving ------------------------------------------ */

srv_status srv_native_require(srv_module *m, char *err, size_t errlen) {
  N.aot = true;
  wasm_module *interp = srv_module_current(m);
  if (wasm_module_is_native(interp)) return SRV_OK; /* a .wasmc */
  char why[600];
  if (!N.open) {
    base_set_err(err, errlen, "%s: --tier aot, but no directory for native code is open", m->path);
    return SRV_ERR_SYSTEM;
  }
  if (cache_key(m, interp, why, sizeof why) != 0) {
    base_set_err(err, errlen,
                 "%s: --tier aot cannot compile it to native code: %s; name a C compiler "
                 "with CC=..., or use --tier auto",
                 m->path, why);
    return SRV_ERR_INVALID;
  }
  uint8_t digest[32];
  wasm_module_digest(interp, digest);
  wasm_module *nat = NULL;
  uint64_t t0 = base_now_ns();
  cache_result c = cache_load(m->native_key, digest, &nat, why, sizeof why);
  if (c == CACHE_BAD)
    srv_log("route %s: cached native code %s/%s is not usable (%s); compiling it again", m->route,
            N.dir, m->native_key, why);
  if (c != CACHE_HIT) {
    compile_result r = compile_to_cache(m, interp, digest, &nat, why, sizeof why);
    if (r != COMPILED) {
      base_set_err(err, errlen, "%s: --tier aot cannot compile it to native code: %s%s", m->path,
                   r == LOAD_FAILED ? "the code just compiled does not load: " : "", why);
      return SRV_ERR_INVALID;
    }
  }
  /* Before serving: no request has seen the interpreter's module. */
  atomic_store_explicit(&m->module, nat, memory_order_release);
  wasm_module_free(interp);
  if (c != CACHE_HIT) {
    N.aot_compiled++;
    srv_log("route %s: compiled to native code in %" PRIu64 " ms", m->route,
            (base_now_ns() - t0) / 1000000u);
  } else {
    N.aot_cached++;
    if (N.temp)
      srv_log("route %s: native code (its module was compiled for an earlier route)", m->route);
    else
      srv_log("route %s: native code from the module cache (%s/%s)", m->route, N.dir,
              m->native_key);
  }
  return SRV_OK;
}

srv_status srv_native_start(srv_module *mods, size_t nmods, char *err, size_t errlen) {
  /* --tier aot has loaded every module's code by now: the temporary
   * directory's files are no longer needed (the code runs from memory). */
  if (N.aot && N.temp)
    srv_log("--tier aot: every route runs native code (%u module(s) compiled)", N.aot_compiled);
  else if (N.aot)
    srv_log(
        "--tier aot: every route runs native code (%u module(s) compiled, %u from the "
        "module cache)",
        N.aot_compiled, N.aot_cached);
  remove_temp_dir();
  if (!N.enabled) return SRV_OK;
  size_t queued = 0;
  for (size_t i = 0; i < nmods; i++)
    if (mods[i].native_pending) queued++;
  if (!queued) return SRV_OK;
  N.mods = mods;
  N.nmods = nmods;
  /* The thread inherits the server's blocked signals (srv_start). */
  int rc = pthread_create(&N.thread, NULL, compiler_main, NULL);
  if (rc != 0) {
    base_set_err(err, errlen, "cannot start the native-code compiler thread: %s", strerror(rc));
    return SRV_ERR_SYSTEM;
  }
  N.started = true;
  srv_log(
      "compiling %zu module(s) to native code in the background; the interpreter serves "
      "them meanwhile",
      queued);
  return SRV_OK;
}

void srv_native_cancel(void) { atomic_store(&N.cancel, 1); }

bool srv_native_stop(void) {
  bool joined = true;
  if (N.started) {
    srv_native_cancel();
    uint64_t until = base_now_ns() + (uint64_t)NATIVE_STOP_MS * 1000000u;
    while (!atomic_load(&N.done) && base_now_ns() < until) {
      struct timespec ts = {0, 5 * 1000000};
      nanosleep(&ts, NULL);
    }
    if (atomic_load(&N.done)) {
      pthread_join(N.thread, NULL);
      N.started = false;
    } else {
      srv_log("the native-code compiler is still translating a module; not waiting for it");
      joined = false;
    }
  }
  if (joined && N.dirfd >= 0) {
    remove_temp_dir();
    close(N.dirfd);
    N.dirfd = -1;
    N.open = N.enabled = false;
  }
  return joined;
}
