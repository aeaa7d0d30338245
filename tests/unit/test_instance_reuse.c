/* test_instance_reuse.c — freed linear memories are pooled and handed to the
 * next instance (memory.c): nothing a guest wrote may reach the next one.
 *
 * The dirty guest (reuse_dirty.wat) grows its memory and fills every byte
 * with a marker; the pool keeps at most 32 reservations, so freeing 40
 * such instances at once leaves a pool in which every reservation was
 * dirtied, and 40 instances created next must all come from it (or from
 * fresh mappings). Each must read zero everywhere but its own data
 * segments, in its initial pages and in pages it grows, and must still
 * trap one byte past its size. Sizes cover the three ways a reservation is
 * scrubbed: memset (first 512 KiB), pagemap-guided memset (to 4 MiB, or to
 * 64 MiB while the pool's budget of kept bytes allows) and MADV_DONTNEED
 * (beyond). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wasm/wasm.h"
#include "unit_util.h"
#include "reuse_dirty_wasm.h"
#include "reuse_data_wasm.h"
#include "reuse_grow_wasm.h"
#include "reuse_small_wasm.h"

#define PAGE 65536u
#define HOLD 40 /* more than the pool keeps */

typedef struct {
  uint32_t at;
  const char *bytes;
} seg;

/* The modules' active data segments (see the .wat files). */
static const seg data_segs[] = {{100, "hello"}, {65530, "straddle"}, {131000, "end"}};
static const seg small_segs[] = {{0, "\x2a"}};

/* CLEAN_SAME is the dirty module itself, checked before it writes. */
typedef enum { CLEAN_DATA, CLEAN_GROW, CLEAN_SMALL, CLEAN_SAME, NCLEAN } clean_kind;

typedef struct {
  wasm_module *dirty, *clean[NCLEAN];
} modules;

static modules compile_all(void) {
  modules m;
  m.dirty = compile_or_fail(reuse_dirty_wasm, reuse_dirty_wasm_len);
  m.clean[CLEAN_DATA] = compile_or_fail(reuse_data_wasm, reuse_data_wasm_len);
  m.clean[CLEAN_GROW] = compile_or_fail(reuse_grow_wasm, reuse_grow_wasm_len);
  m.clean[CLEAN_SMALL] = compile_or_fail(reuse_small_wasm, reuse_small_wasm_len);
  m.clean[CLEAN_SAME] = compile_or_fail(reuse_dirty_wasm, reuse_dirty_wasm_len);
  return m;
}

static void free_all(modules *m) {
  wasm_module_free(m->dirty);
  for (int i = 0; i < NCLEAN; i++) wasm_module_free(m->clean[i]);
}

/* Checks the whole memory of `inst` from the host: segment bytes where
 * segments are, zero everywhere else. Returns NULL or a description. */
static const char *check_memory(wasm_instance *inst, const seg *segs, size_t nsegs, char *why,
                                size_t cap) {
  wasm_memory *mem = wasm_instance_memory(inst);
  const uint8_t *p = wasm_memory_data(mem);
  uint64_t size = wasm_memory_size(mem);
  static const uint8_t zero[4096];
  uint64_t at = 0;
  for (size_t s = 0; s <= nsegs; s++) {
    uint64_t end = s < nsegs ? segs[s].at : size;
    for (uint64_t i = at; i < end;) {
      size_t n = end - i < sizeof zero ? (size_t)(end - i) : sizeof zero;
      if (memcmp(p + i, zero, n) == 0) {
        i += n;
        continue;
      }
      while (!p[i]) i++;
      snprintf(why, cap, "byte %llu of %llu is 0x%02x, want 0", (unsigned long long)i,
               (unsigned long long)size, p[i]);
      return why;
    }
    if (s == nsegs) break;
    size_t n = strlen(segs[s].bytes);
    if (memcmp(p + end, segs[s].bytes, n) != 0) {
      snprintf(why, cap, "data segment at %u does not hold \"%s\"", segs[s].at, segs[s].bytes);
      return why;
    }
    at = end + n;
  }
  return NULL;
}

static wasm_status call1(wasm_instance *inst, const char *fn, int32_t a, int32_t *out) {
  wasm_value arg = v_i32(a), r;
  memset(&r, 0, sizeof r);
  wasm_error err;
  memset(&err, 0, sizeof err);
  wasm_status s = wasm_instance_call(inst, fn, &arg, 1, &r, out ? 1 : 0, &err);
  if (out) *out = r.of.i32;
  return s;
}

/* Makes a dirty instance of 1 + grow pages filled with `marker`. */
static wasm_instance *make_dirty(const modules *m, int32_t grow, int32_t marker, char *why,
                                 size_t cap) {
  wasm_instance *inst = NULL;
  wasm_error err;
  memset(&err, 0, sizeof err);
  if (wasm_instantiate(m->dirty, NULL, NULL, &inst, &err) != WASM_OK) {
    snprintf(why, cap, "instantiate dirty: %.200s", err.msg);
    return NULL;
  }
  wasm_value args[2] = {v_i32(grow), v_i32(marker)}, r;
  if (wasm_instance_call(inst, "dirty", args, 2, &r, 1, &err) != WASM_OK || r.of.i32 != grow + 1) {
    snprintf(why, cap, "dirty(%d): %.200s, result %d", grow, err.msg, r.of.i32);
    wasm_instance_free(inst);
    return NULL;
  }
  return inst;
}

/* Instantiates clean module `k`, checks it reads as freshly created (from
 * the host, and for CLEAN_DATA through wasm loads too), grows it by `grow`
 * pages and checks again. Returns the instance (caller frees) or NULL with
 * the reason in why. */
static wasm_instance *make_clean_checked(const modules *m, clean_kind k, int32_t grow, char *why,
                                         size_t cap) {
  static const uint32_t initial[NCLEAN] = {2, 3, 1, 1};
  const seg *segs = k == CLEAN_DATA ? data_segs : k == CLEAN_SMALL ? small_segs : NULL;
  size_t nsegs = k == CLEAN_DATA ? 3 : k == CLEAN_SMALL ? 1 : 0;
  wasm_instance *inst = NULL;
  wasm_error err;
  memset(&err, 0, sizeof err);
  if (wasm_instantiate(m->clean[k], NULL, NULL, &inst, &err) != WASM_OK) {
    snprintf(why, cap, "instantiate clean %d: %.200s", k, err.msg);
    return NULL;
  }
  wasm_memory *mem = wasm_instance_memory(inst);
  if (wasm_memory_size(mem) != (uint64_t)initial[k] * PAGE) {
    snprintf(why, cap, "module %d: memory of %llu bytes, want %u pages", k,
             (unsigned long long)wasm_memory_size(mem), initial[k]);
  } else if (!check_memory(inst, segs, nsegs, why, cap)) {
    /* The dirty module has no "grow" export: grow it from the host. */
    int32_t r = -2;
    if (k == CLEAN_SAME) r = (int32_t)wasm_memory_grow(mem, (uint32_t)grow);
    else if (call1(inst, "grow", grow, &r) != WASM_OK) r = -2;
    if (r != (int32_t)initial[k])
      snprintf(why, cap, "module %d: grow(%d) gave %d, want %u", k, grow, r, initial[k]);
    else if (!check_memory(inst, segs, nsegs, why, cap)) return inst;
  }
  wasm_instance_free(inst);
  return NULL;
}

/* CLEAN_DATA's own view: scan(from, to) through wasm loads finds nothing
 * outside its segments. */
static void assert_guest_sees_zero(wasm_instance *inst) {
  uint64_t size = wasm_memory_size(wasm_instance_memory(inst));
  /* Between the segments, 8-byte aligned windows that avoid them. */
  const uint32_t ranges[][2] = {{0, 96}, {112, 65528}, {65544, 130992}, {131008, (uint32_t)size}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    wasm_value args[2] = {v_i32((int32_t)ranges[i][0]), v_i32((int32_t)ranges[i][1])}, r;
    wasm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(wasm_instance_call(inst, "scan", args, 2, &r, 1, &err), WASM_OK);
    if (r.of.i32 != -1)
      fail_msg("guest reads a nonzero word at %d in [%u, %u)", r.of.i32, ranges[i][0],
               ranges[i][1]);
  }
}

/* Every reservation the pool holds was dirtied at one of several sizes;
 * every instance made from them is clean, before and after growing. */
static void pooled_memories_are_clean(void **state) {
  (void)state;
  modules m = compile_all();
  /* 1, 2, 4 and 6 pages (memset), 10 (pagemap past 512 KiB), 70 (past 4 MiB). */
  static const int32_t grows[] = {0, 1, 3, 5, 9, 69};
  char why[300];
  wasm_instance *held[HOLD];
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < HOLD; i++) {
      held[i] = make_dirty(&m, grows[(i + round) % 6], 0xa5 + round, why, sizeof why);
      if (!held[i]) fail_msg("%s", why);
    }
    for (int i = 0; i < HOLD; i++) wasm_instance_free(held[i]);
    for (int i = 0; i < HOLD; i++) {
      clean_kind k = (clean_kind)((i + round) % NCLEAN);
      /* CLEAN_GROW stops at its maximum of 10 pages. */
      int32_t grow = k == CLEAN_GROW ? 7 : (i % 3) * 40;
      held[i] = make_clean_checked(&m, k, grow, why, sizeof why);
      if (!held[i]) fail_msg("round %d, instance %d: %s", round, i, why);
      if (k == CLEAN_DATA) assert_guest_sees_zero(held[i]);
    }
    for (int i = 0; i < HOLD; i++) wasm_instance_free(held[i]);
  }
  free_all(&m);
}

/* Memories past the largest kept size (64 MiB), more of them than the
 * pool's budget of kept bytes (512 MiB) holds at that size: the first are
 * kept whole and scrubbed by pagemap, the rest keep 4 MiB, and all drop
 * their tail. Every one handed out again reads zero, grown to full size. */
static void large_memories_past_the_budget(void **state) {
  (void)state;
  enum { N = 10, GROW = 1039 }; /* 1040 pages: 65 MiB */
  modules m = compile_all();
  char why[300];
  wasm_instance *held[N];
  for (int i = 0; i < N; i++) {
    held[i] = make_dirty(&m, GROW, 0x3c, why, sizeof why);
    if (!held[i]) fail_msg("%s", why);
  }
  for (int i = 0; i < N; i++) wasm_instance_free(held[i]);
  for (int i = 0; i < N; i++) {
    held[i] = make_clean_checked(&m, CLEAN_SAME, GROW, why, sizeof why);
    if (!held[i]) fail_msg("instance %d: %s", i, why);
  }
  for (int i = 0; i < N; i++) wasm_instance_free(held[i]);
  free_all(&m);
}

/* A small memory made from a large dirty reservation: the pages past its
 * size must fault again (trap), and read zero once grown into. */
static void reused_memory_keeps_its_bounds(void **state) {
  (void)state;
  modules m = compile_all();
  char why[300];
  wasm_instance *held[HOLD];
  for (int i = 0; i < HOLD; i++) {
    held[i] = make_dirty(&m, 9, 0x5a, why, sizeof why); /* 10 pages */
    if (!held[i]) fail_msg("%s", why);
  }
  for (int i = 0; i < HOLD; i++) wasm_instance_free(held[i]);
  for (int i = 0; i < HOLD; i++) {
    held[i] = instantiate_or_fail(m.clean[CLEAN_SMALL], NULL, NULL);
    int32_t r = -7;
    assert_int_equal(call1(held[i], "load", 0, &r), WASM_OK);
    assert_int_equal(r, 0x2a);
    assert_int_equal(call1(held[i], "load", PAGE - 1, &r), WASM_OK);
    assert_int_equal(r, 0);
    assert_int_equal(call1(held[i], "load", PAGE, &r), WASM_TRAP_MEM_OOB);
    assert_int_equal(call1(held[i], "grow", 1, &r), WASM_OK);
    assert_int_equal(r, 1);
    assert_int_equal(call1(held[i], "load", 2 * PAGE - 1, &r), WASM_OK);
    assert_int_equal(r, 0);
    assert_int_equal(call1(held[i], "load", 2 * PAGE, &r), WASM_TRAP_MEM_OOB);
  }
  for (int i = 0; i < HOLD; i++) wasm_instance_free(held[i]);

  /* The declared maximum still holds on a reused reservation. */
  wasm_instance *g = instantiate_or_fail(m.clean[CLEAN_GROW], NULL, NULL);
  int32_t r = 0;
  assert_int_equal(call1(g, "load", 3 * PAGE, &r), WASM_TRAP_MEM_OOB);
  assert_int_equal(call1(g, "grow", 8, &r), WASM_OK);
  assert_int_equal(r, -1);
  assert_int_equal(call1(g, "grow", 7, &r), WASM_OK);
  assert_int_equal(r, 3);
  assert_int_equal(call1(g, "load", 10 * PAGE - 1, &r), WASM_OK);
  assert_int_equal(r, 0);
  assert_int_equal(call1(g, "load", 10 * PAGE, &r), WASM_TRAP_MEM_OOB);
  wasm_instance_free(g);
  free_all(&m);
}

/* Data segments are written over whatever the reservation held: the same
 * module instantiated after a guest overwrote its segments sees them intact. */
static void data_segments_are_restored(void **state) {
  (void)state;
  modules m = compile_all();
  char why[300];
  for (int i = 0; i < 50; i++) {
    wasm_instance *d = make_dirty(&m, 1, 0xff, why, sizeof why); /* 2 pages */
    if (!d) fail_msg("%s", why);
    wasm_instance_free(d);
    wasm_instance *c = make_clean_checked(&m, CLEAN_DATA, 0, why, sizeof why);
    if (!c) fail_msg("round %d: %s", i, why);
    assert_guest_sees_zero(c);
    /* The guest scribbles over its own segments; the next one must not see it. */
    uint8_t *p = wasm_memory_data(wasm_instance_memory(c));
    memset(p, 0x77, 2 * PAGE);
    wasm_instance_free(c);
  }
  free_all(&m);
}

typedef struct {
  const modules *m;
  int id;
  char why[300];
  int bad;
} worker;

enum { ROUNDS = 300 };

static void *work(void *arg) {
  worker *w = arg;
  static const int32_t grows[] = {0, 1, 3, 5, 9, 69};
  for (int i = 0; i < ROUNDS && !w->bad; i++) {
    wasm_instance *d =
        make_dirty(w->m, grows[(i * 7 + w->id) % 6], 0x10 + w->id, w->why, sizeof w->why);
    if (!d) {
      w->bad = 1;
      break;
    }
    wasm_instance_free(d);
    clean_kind k = (clean_kind)((i + w->id) % NCLEAN);
    wasm_instance *c =
        make_clean_checked(w->m, k, k == CLEAN_GROW ? 7 : (i % 4) * 2, w->why, sizeof w->why);
    if (!c) {
      w->bad = 1;
      break;
    }
    wasm_instance_free(c);
  }
  return NULL;
}

/* Two threads dirty and check memories at once, through the one pool. */
static void two_threads_share_the_pool(void **state) {
  (void)state;
  modules m = compile_all();
  pthread_t t[2];
  worker w[2];
  for (int i = 0; i < 2; i++) {
    w[i] = (worker){.m = &m, .id = i};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 2; i++)
    if (w[i].bad) fail_msg("thread %d: %s", i, w[i].why);
  free_all(&m);
}

/* A forked child scrubs by its own page table, not its parent's (memory.c
 * reads /proc/self/pagemap through a descriptor opened in the parent). Its
 * memories are 10 pages, so pages past 512 KiB go through pagemap. */
static void forked_child_scrubs_its_own_pages(void **state) {
  (void)state;
  modules m = compile_all();
  char why[300];
  /* Make sure the parent has used the pagemap path before forking. */
  wasm_instance *d = make_dirty(&m, 9, 1, why, sizeof why);
  if (!d) fail_msg("%s", why);
  wasm_instance_free(d);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    wasm_instance *held[HOLD];
    for (int i = 0; i < HOLD; i++) {
      held[i] = make_dirty(&m, 9, 0xc3, why, sizeof why);
      if (!held[i]) {
        fprintf(stderr, "child: %s\n", why);
        _exit(1);
      }
    }
    /* Last made first: the reservations mapped in the child (past the
     * inherited pool) are the ones pooled again. */
    for (int i = HOLD; i-- > 0;) wasm_instance_free(held[i]);
    for (int i = 0; i < HOLD; i++) {
      held[i] = make_clean_checked(&m, CLEAN_GROW, 7, why, sizeof why);
      if (!held[i]) {
        fprintf(stderr, "child: instance %d: %s\n", i, why);
        _exit(1);
      }
    }
    _exit(0);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  free_all(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pooled_memories_are_clean),
      cmocka_unit_test(reused_memory_keeps_its_bounds),
      cmocka_unit_test(data_segments_are_restored),
      cmocka_unit_test(two_threads_share_the_pool),
      cmocka_unit_test(large_memories_past_the_budget),
      cmocka_unit_test(forked_child_scrubs_its_own_pages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
