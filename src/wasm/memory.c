/* memory.c — linear memory with guard pages, and the trap signal handler.
 *
 * Every linear memory reserves 8 GiB + 64 KiB of address space with
 * PROT_NONE and makes only its current pages read/write. The interpreter
 * computes base + u32 address + u32 offset (+ at most 16 bytes of access),
 * which always lands inside that reservation, so an out-of-bounds access
 * faults instead of needing a bounds check. The SIGSEGV/SIGBUS handler turns
 * such a fault into siglongjmp(WASM_TRAP_MEM_OOB) on the innermost trap point
 * of the faulting thread; any other fault is handed to the previous handler.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wasm_int.h"

#if UINTPTR_MAX < UINT64_MAX
#error "wagi-c's linear memory needs a 64-bit address space for its guard region"
#endif

/* 4 GiB of address + 4 GiB of offset, plus room for the widest access. */
#define RESERVATION (((uint64_t)8 << 30) + WASM_PAGE_SIZE)

_Thread_local wasm_trap_point *wasm_tls_trap_point;

/* ---- Memory objects ---------------------------------------------------- */

/* Serialises growth of all memories: growth is rare, and a per-memory lock
 * would need a field in the shared struct for no measurable gain. Holding it
 * across mprotect keeps `size` and the accessible pages in agreement, which
 * matters because loads and stores rely on the fault, not on `size`. */
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- Reservation pool ----------------------------------------------------
 *
 * The server creates and frees a memory per request. Mapping a fresh
 * reservation is cheap, but every page the guest then touches costs a page
 * fault, which dominates instantiation (measured on this VM: ~3 us per 4 KiB
 * page, against ~0.1 us to memset it). Freed reservations are therefore
 * zeroed and kept, with their pages resident, for the next memory.
 *
 * Invariant of a pooled reservation: every byte of it reads as zero;
 * [0, accessible) is read/write, the rest PROT_NONE. Only resident pages are
 * memset (mincore); the others are dropped with MADV_DONTNEED, which also
 * discards swapped-out contents, so nothing of one guest reaches the next.
 * A memfd-backed copy-on-write image of a module's initial memory would plug
 * in here too (map it MAP_PRIVATE|MAP_FIXED over the first pages). */
#define POOL_MAX 32
#define POOL_ZERO_LIMIT ((uint64_t)4 << 20)   /* larger: drop, do not memset */
#define OS_PAGE 4096u

typedef struct { uint8_t *base; uint64_t accessible; } pooled;
static pooled pool[POOL_MAX];
static unsigned pool_n;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* Zeroes [0, bytes) of a reservation: memset for resident pages, drop the
 * rest. Returns false if the reservation should be unmapped instead. */
static bool scrub(uint8_t *base, uint64_t bytes) {
  if (bytes == 0) return true;
  if (bytes > POOL_ZERO_LIMIT) return madvise(base, bytes, MADV_DONTNEED) == 0;
  static _Thread_local unsigned char vec[POOL_ZERO_LIMIT / OS_PAGE];
  uint64_t npages = bytes / OS_PAGE;
  if (mincore(base, bytes, vec) != 0) return false;
  uint64_t resident = 0;
  for (uint64_t i = 0; i < npages; i++) resident += vec[i] & 1;
  if (resident == npages) {
    memset(base, 0, bytes);
    return true;
  }
  for (uint64_t i = 0; i < npages;) {
    uint64_t j = i;
    unsigned char r = vec[i] & 1;
    while (j < npages && (vec[j] & 1) == r) j++;
    uint8_t *p = base + i * OS_PAGE;
    uint64_t n = (j - i) * OS_PAGE;
    if (r)
      memset(p, 0, n);
    else if (madvise(p, n, MADV_DONTNEED) != 0)  /* may hold swapped-out data */
      return false;
    i = j;
  }
  return true;
}

/* Takes a zeroed reservation with [0, bytes) accessible, from the pool or
 * freshly mapped. NULL if the address space cannot be reserved. */
static uint8_t *reservation_get(uint64_t bytes) {
  pooled r = {NULL, 0};
  pthread_mutex_lock(&pool_lock);
  if (pool_n) r = pool[--pool_n];
  pthread_mutex_unlock(&pool_lock);
  if (r.base) {
    int rc = 0;
    if (r.accessible > bytes)
      rc = mprotect(r.base + bytes, r.accessible - bytes, PROT_NONE);
    else if (r.accessible < bytes)
      rc = mprotect(r.base + r.accessible, bytes - r.accessible, PROT_READ | PROT_WRITE);
    if (rc == 0) return r.base;
    munmap(r.base, RESERVATION);
  }
  void *base = mmap(NULL, RESERVATION, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return NULL;
  if (bytes && mprotect(base, bytes, PROT_READ | PROT_WRITE) != 0) {
    munmap(base, RESERVATION);
    return NULL;
  }
  return base;
}

static void reservation_put(uint8_t *base, uint64_t accessible) {
  pthread_mutex_lock(&pool_lock);
  bool room = pool_n < POOL_MAX;
  pthread_mutex_unlock(&pool_lock);
  /* Scrub outside the lock; if the pool filled up meanwhile, unmap anyway. */
  if (room && scrub(base, accessible)) {
    pthread_mutex_lock(&pool_lock);
    room = pool_n < POOL_MAX;
    if (room) pool[pool_n++] = (pooled){base, accessible};
    pthread_mutex_unlock(&pool_lock);
    if (room) return;
  }
  munmap(base, RESERVATION);
}

/* Creates a memory of `min_pages` pages with a declared maximum (UINT32_MAX:
 * none) and an embedder cap (0: the 65536-page limit). The caller checks
 * min_pages against max and cap first; here they are only re-checked.
 * Returns WASM_ERR_NOMEM when the address space cannot be reserved (e.g. a
 * low RLIMIT_AS or vm.overcommit_memory=2).
 *
 * Cost: a pooled reservation and at most one mprotect, or one mmap and one
 * mprotect; no page is touched. */
wasm_status wasm_memory_create(uint32_t min_pages, uint32_t max_pages,
                               uint32_t cap_pages, wasm_memory **out) {
  if (cap_pages == 0 || cap_pages > WASM_MAX_PAGES) cap_pages = WASM_MAX_PAGES;
  if (min_pages > WASM_MAX_PAGES || min_pages > cap_pages ||
      (max_pages != UINT32_MAX && min_pages > max_pages))
    return WASM_ERR_NOMEM;
  wasm_trap_init();

  wasm_memory *mem = malloc(sizeof *mem);
  if (!mem) return WASM_ERR_NOMEM;
  uint64_t bytes = (uint64_t)min_pages * WASM_PAGE_SIZE;
  uint8_t *base = reservation_get(bytes);
  if (!base) {
    free(mem);
    return WASM_ERR_NOMEM;
  }
  mem->base = base;
  atomic_init(&mem->size, bytes);
  mem->reserved = RESERVATION;
  mem->max_pages = max_pages;
  mem->cap_pages = cap_pages;
  atomic_init(&mem->refs, 1);
  *out = mem;
  return WASM_OK;
}

void wasm_memory_retain(wasm_memory *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void wasm_memory_release(wasm_memory *m) {
  if (!m) return;
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
  reservation_put(m->base, atomic_load_explicit(&m->size, memory_order_relaxed));
  free(m);
}

wasm_status wasm_memory_new(uint32_t min_pages, uint32_t max_pages,
                            wasm_memory **out) {
  if (!out) return WASM_ERR_ARG;
  if (min_pages > WASM_MAX_PAGES ||
      (max_pages != UINT32_MAX && (max_pages > WASM_MAX_PAGES || min_pages > max_pages)))
    return WASM_ERR_ARG;
  return wasm_memory_create(min_pages, max_pages, WASM_MAX_PAGES, out);
}

void wasm_memory_free(wasm_memory *mem) { wasm_memory_release(mem); }

uint8_t *wasm_memory_data(wasm_memory *mem) { return mem ? mem->base : NULL; }

uint64_t wasm_memory_size(const wasm_memory *mem) {
  return mem ? atomic_load_explicit(&((wasm_memory *)mem)->size, memory_order_acquire) : 0;
}

/* memory.grow: the old size in pages, or -1 when the result would pass the
 * declared maximum, the embedder's cap or 65536 pages, or mprotect fails
 * (out of memory under strict overcommit). The base never moves. */
int64_t wasm_memory_grow(wasm_memory *mem, uint32_t delta) {
  if (!mem) return -1;
  pthread_mutex_lock(&grow_lock);
  uint64_t old = atomic_load_explicit(&mem->size, memory_order_relaxed);
  uint64_t old_pages = old / WASM_PAGE_SIZE;
  uint64_t new_pages = old_pages + delta;
  int64_t result = (int64_t)old_pages;
  if (new_pages > WASM_MAX_PAGES || new_pages > mem->cap_pages ||
      (mem->max_pages != UINT32_MAX && new_pages > mem->max_pages)) {
    result = -1;
  } else if (delta) {
    uint64_t add = (uint64_t)delta * WASM_PAGE_SIZE;
    if (mprotect(mem->base + old, add, PROT_READ | PROT_WRITE) != 0)
      result = -1;
    else
      atomic_store_explicit(&mem->size, old + add, memory_order_release);
  }
  pthread_mutex_unlock(&grow_lock);
  return result;
}

/* ---- Trap signal handler ----------------------------------------------- */

static struct sigaction prev_segv, prev_bus;
static pthread_once_t trap_once = PTHREAD_ONCE_INIT;

/* A fault that is not a wasm out-of-bounds access: put the previous handler
 * (ASan's, a debugger's, or SIG_DFL) back and let the fault happen again
 * under it. Returning from a hardware fault re-executes the instruction; a
 * signal sent with kill() does not repeat, so it is re-raised. */
static void chain_fault(int sig, siginfo_t *info) {
  const struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
  sigaction(sig, prev, NULL);
  if (info->si_code <= 0) raise(sig);
}

static void trap_handler(int sig, siginfo_t *info, void *uctx) {
  (void)uctx;
  wasm_trap_point *tp = wasm_tls_trap_point;
  if (tp) {
    const uint8_t *addr = info->si_addr;
    if (info->si_code > 0 && addr >= tp->mem_lo && addr < tp->mem_hi)
      siglongjmp(tp->jb, WASM_TRAP_MEM_OOB);
  }
  chain_fault(sig, info);
}

static const int trap_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

/* Makes trap_handler the handler of `sig`, remembering the one it replaces
 * as the chain target unless that was trap_handler itself (e.g. put back by
 * signal(), which loses SA_SIGINFO). */
static void install(int sig) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = trap_handler;
  /* SA_NODEFER: we leave the handler by siglongjmp, and the jump target may
   * have been set with sigsetjmp(jb, 0); without it SIGSEGV would stay
   * blocked and the next wasm fault would kill the process. */
  sa.sa_flags = trap_flags;
  sigemptyset(&sa.sa_mask);
  pthread_mutex_lock(&install_lock);
  if (sigaction(sig, &sa, &old) == 0 && (void *)old.sa_sigaction != (void *)trap_handler)
    *(sig == SIGBUS ? &prev_bus : &prev_segv) = old;
  pthread_mutex_unlock(&install_lock);
}

static void install_handlers(void) {
  install(SIGSEGV);
  install(SIGBUS);
}

void wasm_trap_init(void) { pthread_once(&trap_once, install_handlers); }

/* Another component may have installed its own SIGSEGV handler after ours
 * (a crash reporter; cmocka does it around every test and then restores ours
 * with signal(), dropping SA_SIGINFO). Then a wasm fault would not reach us,
 * so outermost entries into wasm check, at the price of one sigaction call,
 * and take the handler back, chaining to the newcomer for other faults. */
static void check_handlers(void) {
  struct sigaction cur;
  if (sigaction(SIGSEGV, NULL, &cur) != 0) return;
  if ((void *)cur.sa_sigaction == (void *)trap_handler &&
      (cur.sa_flags & trap_flags) == trap_flags)
    return;
  install(SIGSEGV);
  install(SIGBUS);
}

/* Per-thread alternate signal stack, so that a fault taken near the end of
 * the machine stack can still run the handler. Set up lazily, once per
 * thread; a thread that already has one (ASan installs its own) keeps it.
 * The stack we allocate is unmapped by the key destructor at thread exit. */
static pthread_key_t altstack_key;
static pthread_once_t altstack_once = PTHREAD_ONCE_INIT;
static _Thread_local bool thread_ready;

#define ALTSTACK_SIZE (64u * 1024)

static void altstack_free(void *p) {
  stack_t cur;
  /* Only disable the alternate stack if it is still ours. */
  if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == p && !(cur.ss_flags & SS_ONSTACK)) {
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
  }
  munmap(p, ALTSTACK_SIZE);
}

static void altstack_key_init(void) { pthread_key_create(&altstack_key, altstack_free); }

void wasm_trap_thread_init(void) {
  if (WASM_LIKELY(thread_ready)) {
    if (!wasm_tls_trap_point) check_handlers();
    return;
  }
  thread_ready = true;
  wasm_trap_init();
  check_handlers();
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;
  pthread_once(&altstack_once, altstack_key_init);
  void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return; /* faults still trap, on the normal stack */
  stack_t st = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
  if (sigaltstack(&st, NULL) != 0) {
    munmap(p, ALTSTACK_SIZE);
    return;
  }
  pthread_setspecific(altstack_key, p);
}
