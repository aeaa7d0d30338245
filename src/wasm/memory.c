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
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include "wasm_int.h"

#if UINTPTR_MAX < UINT64_MAX
#error "wagi-c's linear memory needs a 64-bit address space for its guard region"
#endif

/* 4 GiB of address + 4 GiB of offset, plus room for the widest access. */
#define RESERVATION (((uint64_t)8 << 30) + WASM_PAGE_SIZE)

_Thread_local wasm_trap_point *wasmi_tls_trap_point;

void wasmi_trap_point_init(wasm_trap_point *tp, const wasm_instance *inst) {
  tp->prev = wasmi_tls_trap_point;
  if (inst->memory) {
    tp->mem_lo = inst->memory->base;
    tp->mem_hi = inst->memory->base + inst->memory->reserved;
  } else {
    tp->mem_lo = tp->mem_hi = NULL;
  }
  tp->fault_pc = NULL;
}

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
 * fault (measured on this VM: ~2.4 us per 4 KiB page, against ~0.07 us to
 * memset it), and any madvise or mprotect that removes access flushes the
 * TLB of every CPU running one of the process's threads (an IPI each: with
 * two busy threads a MADV_DONTNEED of a few untouched pages cost ~9 us).
 * Freed reservations are therefore zeroed with plain stores and kept, with
 * their pages resident, for the next memory; in the common case a
 * put/get pair makes no system call at all.
 *
 * Invariant of a pooled reservation: every byte of it reads as zero;
 * [0, accessible) is read/write, the rest PROT_NONE. How put gets there
 * (scrub):
 *   - [0, SCRUB_MEMSET_ALL): memset, whether resident or not. Cheaper than
 *     asking the kernel which pages were touched: a syscall is ~1.3 us here,
 *     and the pagemap read below measured 3-5 us (more while other threads
 *     mprotect, as it takes the mmap lock), about what memset of 512 KiB
 *     costs. The first scrub faults the untouched pages in once; they then
 *     stay resident for every later user of the reservation.
 *   - [SCRUB_MEMSET_ALL, keep): /proc/self/pagemap says which pages are
 *     present or swapped out: those are memset (a swapped page is read back
 *     and overwritten, never skipped); the others were never touched, so
 *     they are zero and stay unmapped. Without pagemap, mincore and
 *     MADV_DONTNEED of the non-resident runs (which may be swapped out).
 *   - [keep, accessible): MADV_DONTNEED, bounding what a pooled reservation
 *     keeps resident.
 * keep is POOL_KEEP_MIN for every reservation, and up to POOL_KEEP_MAX while
 * the pool's kept bytes stay within POOL_KEEP_BUDGET: a module that works in
 * tens of MiB per request (the tf example: a 3.5 MiB model, its prepared
 * filters, activations, the decoded image) otherwise paid ~2000 faults per
 * request, several ms, while a memset of its touched pages costs ~0.5 ms.
 * get takes a reservation with the requested accessible size when the pool
 * has one, so that reuse needs no mprotect either.
 * A memfd-backed copy-on-write image of a module's initial memory would plug
 * in here too, but every page of it would cost a fault on first write. */
#define POOL_MAX 32
#define SCRUB_MEMSET_ALL ((uint64_t)512 << 10)
#define POOL_KEEP_MIN ((uint64_t)4 << 20)
#define POOL_KEEP_MAX ((uint64_t)64 << 20)
#define POOL_KEEP_BUDGET ((uint64_t)512 << 20)
#define PAGEMAP_CHUNK 512u /* pages per pagemap read */
#define OS_PAGE 4096u
#define PM_PRESENT ((uint64_t)1 << 63)
#define PM_SWAPPED ((uint64_t)1 << 62)

/* `cpu` is where it was scrubbed: its lines are in that core's cache, dirty,
 * and another core would have to pull every one over. */
typedef struct {
  uint8_t *base;
  uint64_t accessible;
  uint64_t kept; /* what may be resident: counted in pool_kept */
  int cpu;
} pooled;
static pooled pool[POOL_MAX];
static unsigned pool_n;
static uint64_t pool_kept; /* sum of pool[].kept, plus scrubs in flight */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

/* /proc/self/pagemap, opened once. A forked child would otherwise read its
 * parent's page table through the inherited descriptor: it reopens its own.
 * Its identity is checked before each use, so that if some other code closed
 * it and the number now names another file, we fall back to mincore rather
 * than take that file's bytes for page states. */
static int pagemap_fd = -1;
static struct stat pagemap_st;
static pthread_once_t pagemap_once = PTHREAD_ONCE_INIT;

static void pagemap_open_now(void) {
  pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap_fd >= 0 && fstat(pagemap_fd, &pagemap_st) != 0) {
    close(pagemap_fd);
    pagemap_fd = -1;
  }
}

static void pagemap_reopen_in_child(void) {
  if (pagemap_fd >= 0) close(pagemap_fd);
  pagemap_open_now();
}

/* The fork handler goes in first: a fork right after the open must not
 * leave the child with its parent's pagemap. */
static void pagemap_open(void) {
  pthread_atfork(NULL, NULL, pagemap_reopen_in_child);
  pagemap_open_now();
}

/* Zeroes the pages of [p, p + bytes) that may hold data: memset those present
 * or swapped out per pagemap. False if pagemap cannot be read. */
static bool scrub_pagemap(uint8_t *p, uint64_t bytes) {
  pthread_once(&pagemap_once, pagemap_open);
  struct stat st;
  if (pagemap_fd < 0 || fstat(pagemap_fd, &st) != 0 || st.st_ino != pagemap_st.st_ino ||
      st.st_dev != pagemap_st.st_dev)
    return false;
  uint64_t pm[PAGEMAP_CHUNK];
  for (uint64_t done = 0, total = bytes / OS_PAGE; done < total; done += PAGEMAP_CHUNK) {
    uint8_t *q = p + done * OS_PAGE;
    uint64_t npages = total - done < PAGEMAP_CHUNK ? total - done : PAGEMAP_CHUNK;
    size_t want = (size_t)npages * sizeof pm[0];
    off_t at = (off_t)((uintptr_t)q / OS_PAGE * sizeof pm[0]);
    if (pread(pagemap_fd, pm, want, at) != (ssize_t)want) return false;
    for (uint64_t i = 0; i < npages;) {
      if (!(pm[i] & (PM_PRESENT | PM_SWAPPED))) {
        i++;
        continue;
      }
      uint64_t j = i + 1;
      while (j < npages && (pm[j] & (PM_PRESENT | PM_SWAPPED))) j++;
      memset(q + i * OS_PAGE, 0, (j - i) * OS_PAGE);
      i = j;
    }
  }
  return true;
}

/* The fallback without pagemap: memset resident pages, drop the others
 * (mincore cannot tell untouched pages from swapped-out ones). */
static bool scrub_mincore(uint8_t *p, uint64_t bytes) {
  unsigned char vec[PAGEMAP_CHUNK];
  for (uint64_t done = 0, total = bytes / OS_PAGE; done < total; done += PAGEMAP_CHUNK) {
    uint8_t *c = p + done * OS_PAGE;
    uint64_t npages = total - done < PAGEMAP_CHUNK ? total - done : PAGEMAP_CHUNK;
    if (mincore(c, npages * OS_PAGE, vec) != 0) return false;
    for (uint64_t i = 0; i < npages;) {
      uint64_t j = i;
      unsigned char r = vec[i] & 1;
      while (j < npages && (vec[j] & 1) == r) j++;
      uint8_t *q = c + i * OS_PAGE;
      uint64_t n = (j - i) * OS_PAGE;
      if (r) memset(q, 0, n);
      else if (madvise(q, n, MADV_DONTNEED) != 0) return false;
      i = j;
    }
  }
  return true;
}

/* Zeroes [0, bytes) of a reservation, keeping at most [0, keep) resident
 * (see the pool's comment). Returns false if the reservation should be
 * unmapped instead. */
static bool scrub(uint8_t *base, uint64_t bytes, uint64_t keep) {
  uint64_t all = bytes < SCRUB_MEMSET_ALL ? bytes : SCRUB_MEMSET_ALL;
  memset(base, 0, all);
  if (keep > bytes) keep = bytes;
  if (keep < all) keep = all;
  if (keep > all && !scrub_pagemap(base + all, keep - all) &&
      !scrub_mincore(base + all, keep - all))
    return false;
  return bytes <= keep || madvise(base + keep, bytes - keep, MADV_DONTNEED) == 0;
}

/* Takes a zeroed reservation with [0, bytes) accessible, from the pool or
 * freshly mapped. NULL if the address space cannot be reserved. */
static uint8_t *reservation_get(uint64_t bytes) {
  pooled r = {NULL, 0, 0, -1};
  int cpu = sched_getcpu();
  pthread_mutex_lock(&pool_lock);
  if (pool_n) {
    /* Best: the right size, scrubbed on this CPU; then the right size; then
     * the most recently freed one. */
    unsigned k = pool_n - 1, score = 0;
    for (unsigned i = pool_n; i-- > 0 && score < 2;) {
      unsigned sc = pool[i].accessible == bytes ? 1u + (pool[i].cpu == cpu) : 0u;
      if (sc > score) {
        k = i;
        score = sc;
      }
    }
    r = pool[k];
    memmove(&pool[k], &pool[k + 1], (pool_n - 1 - k) * sizeof pool[0]);
    pool_n--;
    pool_kept -= r.kept;
  }
  pthread_mutex_unlock(&pool_lock);
  if (r.base) {
    int rc = 0;
    if (r.accessible > bytes) rc = mprotect(r.base + bytes, r.accessible - bytes, PROT_NONE);
    else if (r.accessible < bytes)
      rc = mprotect(r.base + r.accessible, bytes - r.accessible, PROT_READ | PROT_WRITE);
    if (rc == 0) return r.base;
    munmap(r.base, RESERVATION);
  }
  void *base =
      mmap(NULL, RESERVATION, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return NULL;
  if (bytes && mprotect(base, bytes, PROT_READ | PROT_WRITE) != 0) {
    munmap(base, RESERVATION);
    return NULL;
  }
  return base;
}

/* Returns a reservation whose [0, accessible) a guest may have written. */
static void reservation_put(uint8_t *base, uint64_t accessible) {
  /* The kept bytes are claimed before the scrub, so that concurrent puts
   * cannot together pass the budget. */
  uint64_t want = accessible < POOL_KEEP_MAX ? accessible : POOL_KEEP_MAX, keep = 0;
  pthread_mutex_lock(&pool_lock);
  bool room = pool_n < POOL_MAX;
  if (room) {
    keep = want < POOL_KEEP_MIN ? want : POOL_KEEP_MIN;
    if (want > keep && pool_kept + want <= POOL_KEEP_BUDGET) keep = want;
    pool_kept += keep;
  }
  pthread_mutex_unlock(&pool_lock);
  /* Scrub outside the lock; if the pool filled up meanwhile, unmap anyway. */
  if (room) {
    bool scrubbed = scrub(base, accessible, keep);
    pthread_mutex_lock(&pool_lock);
    room = scrubbed && pool_n < POOL_MAX;
    if (room) pool[pool_n++] = (pooled){base, accessible, keep, sched_getcpu()};
    else pool_kept -= keep;
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
 * Cost: a pooled reservation of the same size and no system call, else a
 * pooled one and one mprotect, or one mmap and one mprotect; no page is
 * touched. */
wasm_status wasmi_memory_create(uint32_t min_pages, uint32_t max_pages, uint32_t cap_pages,
                                wasm_memory **out) {
  if (cap_pages == 0 || cap_pages > WASM_MAX_PAGES) cap_pages = WASM_MAX_PAGES;
  if (min_pages > WASM_MAX_PAGES || min_pages > cap_pages ||
      (max_pages != UINT32_MAX && min_pages > max_pages))
    return WASM_ERR_NOMEM;
  wasmi_trap_init();

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

void wasmi_memory_retain(wasm_memory *m) {
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void wasmi_memory_release(wasm_memory *m) {
  if (!m) return;
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
  reservation_put(m->base, atomic_load_explicit(&m->size, memory_order_relaxed));
  free(m);
}

wasm_status wasm_memory_new(uint32_t min_pages, uint32_t max_pages, wasm_memory **out) {
  if (!out) return WASM_ERR_ARG;
  if (min_pages > WASM_MAX_PAGES ||
      (max_pages != UINT32_MAX && (max_pages > WASM_MAX_PAGES || min_pages > max_pages)))
    return WASM_ERR_ARG;
  return wasmi_memory_create(min_pages, max_pages, WASM_MAX_PAGES, out);
}

void wasm_memory_free(wasm_memory *mem) { wasmi_memory_release(mem); }

uint8_t *wasm_memory_data(wasm_memory *mem) { return mem ? mem->base : NULL; }

uint64_t wasm_memory_size(const wasm_memory *mem) {
  return mem ? atomic_load_explicit(&((wasm_memory *)mem)->size, memory_order_acquire) : 0;
}

wasm_memory_view wasm_memory_view_of(wasm_memory *mem) {
  /* A non-NULL base for "no memory", so that a zero-length range at 0 is a
   * valid (empty) pointer rather than the NULL that means out of bounds. */
  static uint8_t no_memory[8];
  if (!mem) return (wasm_memory_view){no_memory, 0};
  return (wasm_memory_view){mem->base, wasm_memory_size(mem)};
}

uint8_t *wasm_memory_range(wasm_memory *mem, uint64_t ptr, uint64_t len) {
  wasm_memory_view v = wasm_memory_view_of(mem);
  return wasm_view_range(&v, ptr, len);
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
    if (mprotect(mem->base + old, add, PROT_READ | PROT_WRITE) != 0) result = -1;
    else atomic_store_explicit(&mem->size, old + add, memory_order_release);
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

/* The address of the instruction that faulted (NULL where unknown). */
static const void *fault_pc(void *uctx) {
  const ucontext_t *uc = uctx;
#if defined(__x86_64__)
  return (const void *)(uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (const void *)(uintptr_t)uc->uc_mcontext.pc;
#else
  (void)uc;
  return NULL;
#endif
}

static void trap_handler(int sig, siginfo_t *info, void *uctx) {
  wasm_trap_point *tp = wasmi_tls_trap_point;
  if (tp) {
    const uint8_t *addr = info->si_addr;
    if (info->si_code > 0 && addr >= tp->mem_lo && addr < tp->mem_hi) {
      tp->fault_pc = fault_pc(uctx);
      siglongjmp(tp->jb, WASM_TRAP_MEM_OOB);
    }
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

void wasmi_trap_init(void) { pthread_once(&trap_once, install_handlers); }

/* Another component may have installed its own SIGSEGV handler after ours
 * (a crash reporter; cmocka does it around every test and then restores ours
 * with signal(), dropping SA_SIGINFO). Then a wasm fault would not reach us,
 * so outermost entries into wasm check, at the price of one sigaction call,
 * and take the handler back, chaining to the newcomer for other faults. */
static void check_handlers(void) {
  struct sigaction cur;
  if (sigaction(SIGSEGV, NULL, &cur) != 0) return;
  if ((void *)cur.sa_sigaction == (void *)trap_handler && (cur.sa_flags & trap_flags) == trap_flags)
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

void wasmi_trap_thread_init(void) {
  if (WASM_LIKELY(thread_ready)) {
    if (!wasmi_tls_trap_point) check_handlers();
    return;
  }
  thread_ready = true;
  wasmi_trap_init();
  check_handlers();
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;
  pthread_once(&altstack_once, altstack_key_init);
  void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return; /* faults still trap, on the normal stack */
  stack_t st = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
  if (sigaltstack(&st, NULL) != 0) {
    munmap(p, ALTSTACK_SIZE);
    return;
  }
  pthread_setspecific(altstack_key, p);
}
