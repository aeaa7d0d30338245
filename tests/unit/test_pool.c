/* test_pool.c — the runners (src/server/pool.c) without HTTP: arrival
 * order, a module's run-slot limit, the bounded wait queue and its expiry,
 * long jobs not holding up others, and shutdown answering every job.
 * Jobs wait on conditions the test controls, never on the clock, so each
 * check is about order, not speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/server_int.h"

enum { WORKERS = 2, SLOW = 0, WIDE = 1, NMODS = 2 };

static srv_module mods[NMODS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

typedef struct {
  srv_job job;
  int id;
  bool ran, done;
  srv_status refused;
  char refusal[160];
  bool hold; /* run: wait until *release is set */
  const bool *release;
  bool spin; /* run: busy-wait (no blocking call) until *release */
} tjob;

static int order[128], norder, running, max_running;

static void tjob_fn(srv_job *j, srv_status refused, const char *err) {
  tjob *t = (tjob *)j;
  pthread_mutex_lock(&mu);
  if (refused != SRV_OK) {
    t->refused = refused;
    snprintf(t->refusal, sizeof t->refusal, "%s", err);
  } else {
    t->ran = true;
    order[norder++] = t->id;
    if (++running > max_running) max_running = running;
    pthread_cond_broadcast(&cv);
    if (t->hold) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 10; /* a cap, so that a broken pool fails the test */
      while (!*t->release && pthread_cond_timedwait(&cv, &mu, &ts) == 0) {}
    }
    if (t->spin) {
      pthread_mutex_unlock(&mu);
      for (long i = 0; i < 4000000000l; i++) {
        if (__atomic_load_n(t->release, __ATOMIC_ACQUIRE)) break;
      }
      pthread_mutex_lock(&mu);
    }
    running--;
  }
  t->done = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void tjob_init(tjob *t, int id, int mod) {
  memset(t, 0, sizeof *t);
  t->id = id;
  t->job.mod = &mods[mod];
  t->job.fn = tjob_fn;
}

/* Waits (10 s at most) until `cond` holds; the mutex is held around it. */
#define WAIT_UNTIL(cond)                                                                           \
  do {                                                                                             \
    struct timespec ts_;                                                                           \
    clock_gettime(CLOCK_REALTIME, &ts_);                                                           \
    ts_.tv_sec += 10;                                                                              \
    pthread_mutex_lock(&mu);                                                                       \
    while (!(cond) && pthread_cond_timedwait(&cv, &mu, &ts_) == 0) {}                              \
    bool ok_ = (cond);                                                                             \
    pthread_mutex_unlock(&mu);                                                                     \
    assert_true(ok_);                                                                              \
  } while (0)

static void reset_counters(void) {
  pthread_mutex_lock(&mu);
  norder = running = max_running = 0;
  pthread_mutex_unlock(&mu);
}

static int group_setup(void **state) {
  (void)state;
  memset(mods, 0, sizeof mods);
  mods[SLOW].limits.max_concurrency = 1;
  mods[SLOW].limits.timeout_ms = 200; /* also the longest wait for a slot */
  mods[WIDE].limits.max_concurrency = 8;
  mods[WIDE].limits.timeout_ms = 30000;
  char err[256];
  return srv_pool_start(mods, NMODS, WORKERS, err, sizeof err);
}

static void test_one_slot_runs_in_arrival_order(void **state) {
  (void)state;
  reset_counters();
  static bool release;
  static tjob js[10];
  release = false;
  tjob_init(&js[0], 0, SLOW);
  js[0].hold = true;
  js[0].release = &release;
  char err[160];
  assert_int_equal(srv_pool_submit(&js[0].job, err, sizeof err), SRV_OK);
  WAIT_UNTIL(js[0].ran);
  /* Queued behind the held slot; the queue wait is 200 ms, so release
   * before it runs out (the expiry has its own test). */
  mods[SLOW].limits.timeout_ms = 30000;
  for (int i = 1; i < 10; i++) {
    tjob_init(&js[i], i, SLOW);
    assert_int_equal(srv_pool_submit(&js[i].job, err, sizeof err), SRV_OK);
  }
  pthread_mutex_lock(&mu);
  release = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  WAIT_UNTIL(js[9].done);
  mods[SLOW].limits.timeout_ms = 200;
  assert_int_equal(norder, 10);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(order[i], i);
    assert_true(js[i].ran);
    assert_string_equal(js[i].refusal, "");
  }
  assert_int_equal(max_running, 1); /* never two in the one slot */
}

static void test_full_queue_refused_at_once(void **state) {
  (void)state;
  reset_counters();
  static bool release;
  static tjob holder, queued[SRV_QUEUE_FACTOR], extra;
  release = false;
  mods[SLOW].limits.timeout_ms = 30000;
  tjob_init(&holder, 0, SLOW);
  holder.hold = true;
  holder.release = &release;
  char err[160];
  assert_int_equal(srv_pool_submit(&holder.job, err, sizeof err), SRV_OK);
  WAIT_UNTIL(holder.ran);
  for (unsigned i = 0; i < SRV_QUEUE_FACTOR; i++) {
    tjob_init(&queued[i], (int)i + 1, SLOW);
    assert_int_equal(srv_pool_submit(&queued[i].job, err, sizeof err), SRV_OK);
  }
  tjob_init(&extra, 999, SLOW);
  assert_int_equal(srv_pool_submit(&extra.job, err, sizeof err), SRV_ERR_BUSY);
  assert_string_equal(err, "busy: 1 running, 64 queued (limit 1)");
  assert_false(extra.done); /* refused at submission: fn is never called */
  pthread_mutex_lock(&mu);
  release = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  WAIT_UNTIL(queued[SRV_QUEUE_FACTOR - 1].done);
  mods[SLOW].limits.timeout_ms = 200;
  for (unsigned i = 0; i < SRV_QUEUE_FACTOR; i++) assert_true(queued[i].ran);
}

static void test_wait_for_a_slot_runs_out(void **state) {
  (void)state;
  reset_counters();
  static bool release;
  static tjob holder, waiter;
  release = false;
  tjob_init(&holder, 0, SLOW);
  holder.hold = true;
  holder.release = &release; /* held until the waiter has been refused */
  char err[160];
  assert_int_equal(srv_pool_submit(&holder.job, err, sizeof err), SRV_OK);
  WAIT_UNTIL(holder.ran);
  tjob_init(&waiter, 1, SLOW);
  assert_int_equal(srv_pool_submit(&waiter.job, err, sizeof err), SRV_OK);
  WAIT_UNTIL(waiter.done);
  assert_false(waiter.ran);
  assert_int_equal(waiter.refused, SRV_ERR_BUSY);
  assert_string_equal(waiter.refusal, "busy: waited 200 ms for one of 1 run slots");
  pthread_mutex_lock(&mu);
  release = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  WAIT_UNTIL(holder.done);
}

/* More jobs that compute without end than runners: a quick job still runs
 * while all of them spin (each stops counting against the CPUs after a few
 * milliseconds once others wait). */
static void test_spinning_jobs_do_not_hold_up_others(void **state) {
  (void)state;
  reset_counters();
  static bool release;
  static tjob spinners[WORKERS + 1], quick;
  __atomic_store_n(&release, false, __ATOMIC_RELEASE);
  char err[160];
  for (int i = 0; i < WORKERS + 1; i++) {
    tjob_init(&spinners[i], i, WIDE);
    spinners[i].spin = true;
    spinners[i].release = &release;
    assert_int_equal(srv_pool_submit(&spinners[i].job, err, sizeof err), SRV_OK);
  }
  tjob_init(&quick, 100, WIDE);
  assert_int_equal(srv_pool_submit(&quick.job, err, sizeof err), SRV_OK);
  WAIT_UNTIL(quick.done);
  assert_true(quick.ran);
  for (int i = 0; i < WORKERS + 1; i++) assert_false(spinners[i].done);
  __atomic_store_n(&release, true, __ATOMIC_RELEASE);
  for (int i = 0; i < WORKERS + 1; i++) WAIT_UNTIL(spinners[i].done);
}

typedef struct {
  pthread_t t;
} stopper;
static void *stop_main(void *arg) {
  (void)arg;
  srv_pool_stop();
  return NULL;
}

/* Last: stopping refuses what waits for a slot, lets the running job
 * finish, and refuses new submissions. */
static void test_stop_answers_every_job(void **state) {
  (void)state;
  reset_counters();
  static bool release;
  static tjob holder, waiter, late;
  release = false;
  mods[SLOW].limits.timeout_ms = 30000;
  tjob_init(&holder, 0, SLOW);
  holder.hold = true;
  holder.release = &release;
  char err[160];
  assert_int_equal(srv_pool_submit(&holder.job, err, sizeof err), SRV_OK);
  WAIT_UNTIL(holder.ran);
  tjob_init(&waiter, 1, SLOW);
  assert_int_equal(srv_pool_submit(&waiter.job, err, sizeof err), SRV_OK);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, stop_main, NULL), 0);
  WAIT_UNTIL(waiter.done);
  assert_false(waiter.ran);
  assert_int_equal(waiter.refused, SRV_ERR_STOPPING);
  assert_string_equal(waiter.refusal, "interrupted: the server is shutting down");
  assert_false(holder.done); /* still running: stop waits for it */
  tjob_init(&late, 2, WIDE);
  assert_int_equal(srv_pool_submit(&late.job, err, sizeof err), SRV_ERR_STOPPING);
  assert_string_equal(err, "the server is shutting down");
  pthread_mutex_lock(&mu);
  release = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(t, NULL);
  assert_true(holder.done);
  assert_false(late.done);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_slot_runs_in_arrival_order),
      cmocka_unit_test(test_full_queue_refused_at_once),
      cmocka_unit_test(test_wait_for_a_slot_runs_out),
      cmocka_unit_test(test_spinning_jobs_do_not_hold_up_others),
      cmocka_unit_test(test_stop_answers_every_job),
  };
  return cmocka_run_group_tests_name("pool", tests, group_setup, NULL);
}
