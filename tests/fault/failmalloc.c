/* failmalloc.c — an LD_PRELOAD shim that makes allocations fail at random,
 * for the process-level fault test (tests/fault/README.md).
 *
 * It defines malloc, calloc, realloc, reallocarray, free, posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc, and (FAULT_MMAP=1) mmap.
 * glibc sends its own internal allocations (strdup, fopen, the dynamic
 * loader's thread set-up, ...) through whatever `malloc` the process
 * resolves, so this reaches wagi's code and every library it uses
 * (libmicrohttpd, libcurl, OpenSSL) alike. Each call is forwarded to the
 * next definition in the lookup order (dlsym RTLD_NEXT): libc's, or
 * ASan's when libasan comes right after this shim in LD_PRELOAD, so that
 * LeakSanitizer still sees every block.
 *
 * Injection is off until SIGUSR1 and off again after SIGUSR2, so that the
 * server's startup is not what is tested. Each signal prints one line on
 * stderr:
 *
 *   failmalloc: on|off calls=N injected=K live=L
 *
 * calls: allocation calls while on; injected: of those, failed; live: blocks
 * allocated and not yet freed, counted over the whole process life (the
 * test compares it before and after the storm to find leaks without ASan).
 *
 * Environment:
 *   FAULT_SEED   64-bit seed of the failure sequence (default 1)
 *   FAULT_PPM    failures per million allocation calls while on (default 10000)
 *   FAULT_MMAP   1: anonymous mmap calls of 64 KiB or more fail too
 *   FAULT_TRACE  1: a backtrace on stderr for every injected failure
 *   FAULT_SKIP   never fail an allocation with a frame of an object whose file
 *                base name contains this text among its 24 innermost
 *                ("libasan": ASan's own thread set-up calls glibc functions
 *                that allocate, and aborts when they fail)
 *   FAULT_SIZE   fail only requests of exactly this many bytes (a regression
 *                test aiming at one allocation; 0 = any size)
 *   FAULT_ONLY   fail only allocations made by an object whose file base
 *                name contains this text ("wagi", "libmicrohttpd"): the first
 *                caller outside this shim and libc (so strdup's caller)
 *
 * The decision for the n-th call while on is a hash of (seed, n): with one
 * thread the same calls fail on every run; with several it depends on how
 * their calls interleave, which is as reproducible as the test needs.
 *
 * Re-entry: dlsym may itself allocate before the real functions are known;
 * those few requests are served from a static arena (and never freed). A
 * thread-local depth counter (initial-exec TLS: no allocation to reach it)
 * keeps the shim's own calls (backtrace) from being failed or traced.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <unwind.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*reallocarray_fn)(void *, size_t, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*memalign_fn)(size_t, size_t);
typedef void *(*valloc_fn)(size_t);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static struct {
  malloc_fn malloc;
  calloc_fn calloc;
  realloc_fn realloc;
  reallocarray_fn reallocarray;
  free_fn free;
  posix_memalign_fn posix_memalign;
  memalign_fn aligned_alloc, memalign;
  valloc_fn valloc, pvalloc;
  mmap_fn mmap;
} real;

static _Atomic int resolved; /* 0 not yet, 1 resolving, 2 done */
static _Atomic bool active;
static _Atomic uint64_t calls, injected;
static _Atomic int64_t live;
static uint64_t seed = 1;
static uint32_t ppm = 10000;
static bool fail_mmap, trace;
static char only[64], skip[64];
static size_t only_size;

static __thread int depth __attribute__((tls_model("initial-exec")));

/* ---- The bootstrap arena (allocations made while dlsym runs) ---- */

static _Alignas(64) unsigned char arena[64 * 1024];
static _Atomic size_t arena_used;

static void *arena_alloc(size_t n) {
  n = (n + 63) & ~(size_t)63;
  size_t off = atomic_fetch_add(&arena_used, n);
  if (off + n > sizeof arena) return NULL;
  return arena + off;
}

static bool in_arena(const void *p) {
  return (const unsigned char *)p >= arena && (const unsigned char *)p < arena + sizeof arena;
}

/* ---- Stacks ---- */

/* glibc's backtrace() dlopens libgcc_s on its first call, an allocation
 * of the loader's that LeakSanitizer then reports as leaked (it was made
 * through this shim); libgcc's unwinder, linked directly, needs none. */
typedef struct {
  void **frames;
  int n, max;
} stack_walk;

static _Unwind_Reason_Code walk_step(struct _Unwind_Context *ctx, void *arg) {
  stack_walk *w = arg;
  if (w->n >= w->max) return _URC_END_OF_STACK;
  w->frames[w->n++] = (void *)_Unwind_GetIP(ctx);
  return _URC_NO_REASON;
}

static int stack_frames(void **frames, int max) {
  stack_walk w = {frames, 0, max};
  _Unwind_Backtrace(walk_step, &w);
  return w.n;
}

/* ---- Set-up ---- */

static uint64_t env_u64(const char *name, uint64_t dflt) {
  const char *s = getenv(name);
  if (!s || !*s) return dflt;
  char *end;
  unsigned long long v = strtoull(s, &end, 0);
  return *end ? dflt : (uint64_t)v;
}

static void resolve(void) {
  int expect = 0;
  if (!atomic_compare_exchange_strong(&resolved, &expect, 1)) {
    /* Another thread is resolving: wait for it (only ever at startup). */
    while (atomic_load(&resolved) != 2) {}
    return;
  }
  real.malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
  real.calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
  real.realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
  real.reallocarray = (reallocarray_fn)dlsym(RTLD_NEXT, "reallocarray");
  real.free = (free_fn)dlsym(RTLD_NEXT, "free");
  real.posix_memalign = (posix_memalign_fn)dlsym(RTLD_NEXT, "posix_memalign");
  real.aligned_alloc = (memalign_fn)dlsym(RTLD_NEXT, "aligned_alloc");
  real.memalign = (memalign_fn)dlsym(RTLD_NEXT, "memalign");
  real.valloc = (valloc_fn)dlsym(RTLD_NEXT, "valloc");
  real.pvalloc = (valloc_fn)dlsym(RTLD_NEXT, "pvalloc");
  real.mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
  atomic_store(&resolved, 2);
}

static inline bool ready(void) {
  if (__builtin_expect(atomic_load_explicit(&resolved, memory_order_acquire) == 2, 1)) return true;
  if (atomic_load(&resolved) == 1 && depth > 0) return false; /* inside dlsym: use the arena */
  depth++;
  resolve();
  depth--;
  return true;
}

/* ---- Reporting (async-signal-safe: write(2) only) ---- */

static size_t put_str(char *buf, size_t at, const char *s) {
  while (*s) buf[at++] = *s++;
  return at;
}

static size_t put_num(char *buf, size_t at, int64_t v) {
  char tmp[24];
  size_t n = 0;
  uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) buf[at++] = '-';
  while (n) buf[at++] = tmp[--n];
  return at;
}

static void report(const char *state) {
  char line[160];
  size_t n = put_str(line, 0, "failmalloc: ");
  n = put_str(line, n, state);
  n = put_str(line, n, " calls=");
  n = put_num(line, n, (int64_t)atomic_load(&calls));
  n = put_str(line, n, " injected=");
  n = put_num(line, n, (int64_t)atomic_load(&injected));
  n = put_str(line, n, " live=");
  n = put_num(line, n, atomic_load(&live));
  line[n++] = '\n';
  if (write(2, line, n) < 0) {} /* nowhere else to say it */
}

static void on_signal(int sig) {
  int saved = errno;
  atomic_store(&active, sig == SIGUSR1);
  report(sig == SIGUSR1 ? "on" : "off");
  errno = saved;
}

__attribute__((constructor)) static void shim_init(void) {
  depth++;
  ready();
  /* The process under test only: its children (the C compiler that
   * --tier aot runs) start without this shim, or ASan's runtime. */
  unsetenv("LD_PRELOAD");
  seed = env_u64("FAULT_SEED", 1);
  uint64_t p = env_u64("FAULT_PPM", 10000);
  ppm = p > 1000000 ? 1000000 : (uint32_t)p;
  fail_mmap = env_u64("FAULT_MMAP", 0) != 0;
  only_size = (size_t)env_u64("FAULT_SIZE", 0);
  trace = env_u64("FAULT_TRACE", 0) != 0;
  const char *o = getenv("FAULT_ONLY");
  if (o) {
    strncpy(only, o, sizeof only - 1);
    only[sizeof only - 1] = 0;
  }
  o = getenv("FAULT_SKIP");
  if (o) {
    strncpy(skip, o, sizeof skip - 1);
    skip[sizeof skip - 1] = 0;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  depth--;
}

/* ---- The decision ---- */

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static bool in_object(const char *fname, const char *text) {
  const char *base = strrchr(fname, '/');
  return strstr(base ? base + 1 : fname, text) != NULL;
}

/* Is the allocation being made by the FAULT_ONLY object? (depth > 0) */
static bool caller_matches(void) {
  void *frames[12];
  int nf = stack_frames(frames, 12);
  static const void *self_base, *libc_base;
  Dl_info di;
  if (!self_base && dladdr((void *)caller_matches, &di)) self_base = di.dli_fbase;
  if (!libc_base && dladdr((void *)strdup, &di)) libc_base = di.dli_fbase;
  for (int i = 0; i < nf; i++) {
    if (!dladdr(frames[i], &di) || !di.dli_fname) return false;
    if (di.dli_fbase == self_base || di.dli_fbase == libc_base) continue;
    return in_object(di.dli_fname, only);
  }
  return false;
}

/* Has the stack a frame of the FAULT_SKIP object? (depth > 0) */
static bool stack_has_skipped(void) {
  void *frames[24];
  int nf = stack_frames(frames, 24);
  Dl_info di;
  for (int i = 0; i < nf; i++)
    if (dladdr(frames[i], &di) && di.dli_fname && in_object(di.dli_fname, skip)) return true;
  return false;
}

static bool should_fail(size_t size) {
  if (!atomic_load_explicit(&active, memory_order_relaxed) || depth > 0) return false;
  if (only_size && size != only_size) return false;
  uint64_t n = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  if (mix(seed ^ mix(n)) % 1000000u >= ppm) return false;
  if (only[0] || skip[0]) {
    depth++;
    bool match = (!only[0] || caller_matches()) && (!skip[0] || !stack_has_skipped());
    depth--;
    if (!match) return false;
  }
  atomic_fetch_add_explicit(&injected, 1, memory_order_relaxed);
  if (trace) {
    depth++;
    void *frames[32];
    int nf = stack_frames(frames, 32);
    static const char head[] = "failmalloc: injected failure at\n";
    if (write(2, head, sizeof head - 1) < 0) {}
    backtrace_symbols_fd(frames, nf, 2);
    depth--;
  }
  errno = ENOMEM;
  return true;
}

static inline void *counted(void *p) {
  if (p) atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
  return p;
}

/* ---- The allocator entry points ---- */

SHIM_EXPORT void *malloc(size_t n) {
  if (!ready()) return arena_alloc(n);
  if (should_fail(n)) return NULL;
  return counted(real.malloc(n));
}

SHIM_EXPORT void *calloc(size_t k, size_t n) {
  if (!ready()) {
    if (n && k > SIZE_MAX / n) return NULL;
    return arena_alloc(k * n); /* static storage: already zero */
  }
  if (should_fail(n && k > SIZE_MAX / n ? SIZE_MAX : k * n)) return NULL;
  return counted(real.calloc(k, n));
}

SHIM_EXPORT void free(void *p) {
  if (!p || in_arena(p)) return;
  if (!ready()) return; /* cannot happen: nothing else was allocated yet */
  atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
  real.free(p);
}

/* realloc(p, 0) frees p in glibc (and returns NULL); realloc(NULL, n) is
 * malloc. A failed realloc leaves p allocated. */
static void *realloc_counted(void *p, void *np, size_t n) {
  if (!p && np) atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
  else if (p && !np && n == 0) atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
  return np;
}

SHIM_EXPORT void *realloc(void *p, size_t n) {
  if (!ready() || in_arena(p)) {
    void *np = ready() ? malloc(n) : arena_alloc(n);
    if (np && p) { /* an arena block's size is not kept: copy what can be its */
      size_t room = (size_t)(arena + sizeof arena - (unsigned char *)p);
      memmove(np, p, n < room ? n : room);
    }
    return np;
  }
  if (should_fail(n)) return NULL;
  return realloc_counted(p, real.realloc(p, n), n);
}

SHIM_EXPORT void *reallocarray(void *p, size_t k, size_t n) {
  if (n && k > SIZE_MAX / n) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, k * n);
}

SHIM_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (!ready()) return ENOMEM;
  if (should_fail(n)) return ENOMEM;
  int rc = real.posix_memalign(out, align, n);
  if (rc == 0) counted(*out);
  return rc;
}

SHIM_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (!ready()) return NULL;
  if (should_fail(n)) return NULL;
  return counted(real.aligned_alloc(align, n));
}

SHIM_EXPORT void *memalign(size_t align, size_t n) {
  if (!ready()) return NULL;
  if (should_fail(n)) return NULL;
  return counted(real.memalign(align, n));
}

SHIM_EXPORT void *valloc(size_t n) {
  if (!ready()) return NULL;
  if (should_fail(n)) return NULL;
  return counted(real.valloc(n));
}

SHIM_EXPORT void *pvalloc(size_t n) {
  if (!ready()) return NULL;
  if (should_fail(n)) return NULL;
  return counted(real.pvalloc(n));
}

/* Only calls through the PLT get here: the engine's wasm memories and
 * signal stacks, not glibc's own (malloc's large blocks, thread stacks),
 * which call the system directly. */
SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (!ready()) return MAP_FAILED;
  if (fail_mmap && (flags & MAP_ANONYMOUS) && !(flags & MAP_FIXED) && len >= 65536 &&
      should_fail(len))
    return MAP_FAILED;
  return real.mmap(addr, len, prot, flags, fd, off);
}
