/* pool.c — the runners: a fixed set of threads that run module requests.
 *
 * libmicrohttpd's event loops (one per CPU) parse requests; a request for a
 * module is suspended there and handed over here as an srv_job. This file
 * decides which job runs when:
 *
 *   - At most `target` jobs (default: one per CPU) run on the CPUs at once,
 *     in arrival order through one ready queue. More threads than CPUs
 *     running wasm only adds context switches (expensive on VMs) and
 *     scheduler-made tail latency; a FIFO keeps every request's wait about
 *     the same.
 *   - Each module has its own run-slot limit (max_concurrency) and a bounded
 *     FIFO of jobs waiting for a slot (SRV_QUEUE_FACTOR x the limit, each at
 *     most the time limit or SRV_QUEUE_WAIT_MS): a full queue or a wait that
 *     runs out is refused with a 503. A job enters the ready queue only with
 *     a slot, so one busy module cannot fill the runners' queue.
 *   - A job that blocks (outbound HTTP, a sleep: the host layers call
 *     srv_pool_blocking first) or runs for longer than SRV_POOL_LONG_MS
 *     while others wait stops counting against `target`: another thread (started on
 *     demand, at most SRV_POOL_MAX_THREADS) takes the next job and the OS
 *     shares the CPUs. A slow module thus delays others by at most a few
 *     milliseconds, never by its whole run, which is what thread-per-
 *     connection gave for free and a plain fixed pool would lose.
 *
 * One mutex guards all of it: each job takes it twice, which at tens of
 * thousands of requests a second is far below the cost of the run itself.
 * A monitor thread does the timed parts (demotion, queue expiry) and only
 * ticks while something waits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "server_int.h"

#define SRV_POOL_MAX_THREADS 256u
#define SRV_POOL_LONG_MS 5u
#define SRV_POOL_TICK_MS 5u

typedef struct {
  pthread_t thread;
  srv_job *job;        /* running, NULL when idle */
  uint64_t started_ns; /* when `job` started */
  bool demoted;        /* `job` no longer counts in active */
} runner;

static struct {
  pthread_mutex_t lock;
  pthread_cond_t work; /* idle runners wait here */
  pthread_cond_t mon;  /* the monitor waits here */
  srv_job *ready_head, *ready_tail;
  unsigned target; /* jobs on the CPUs at once */
  unsigned active; /* running jobs not demoted */
  unsigned idle;   /* runners waiting for work */
  unsigned nthreads;
  runner *runners;  /* SRV_POOL_MAX_THREADS slots */
  srv_module *mods; /* for the monitor's queue expiry */
  size_t nmods;
  unsigned queued; /* jobs in module queues */
  bool stopping, started, mon_started, mon_sleeping;
  pthread_t mon_thread;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void ready_push(srv_job *j) {
  j->next = NULL;
  if (P.ready_tail) P.ready_tail->next = j;
  else P.ready_head = j;
  P.ready_tail = j;
}

static srv_job *ready_pop(void) {
  srv_job *j = P.ready_head;
  if (j) {
    P.ready_head = j->next;
    if (!P.ready_head) P.ready_tail = NULL;
  }
  return j;
}

static void *runner_main(void *arg);
static _Thread_local runner *tls_runner; /* the runner this thread is */

/* Gets a runner to the ready queue if a CPU slot is free: wakes an idle
 * one, or starts a thread. Called with the lock held. */
static void wake_runner(void) {
  if (!P.ready_head || P.active >= P.target) return;
  if (P.idle > 0) {
    pthread_cond_signal(&P.work);
    return;
  }
  if (P.stopping || P.nthreads >= SRV_POOL_MAX_THREADS) return;
  runner *r = &P.runners[P.nthreads];
  memset(r, 0, sizeof *r);
  if (pthread_create(&r->thread, NULL, runner_main, r) == 0) P.nthreads++;
  /* On failure the job waits for a running one to finish. */
}

/* Gets the monitor ticking when jobs wait for a CPU slot that long jobs
 * may be holding. Lock held. */
static void nudge_monitor(void) {
  if (P.mon_sleeping && P.ready_head && P.active >= P.target) pthread_cond_signal(&P.mon);
}

/* A module slot freed: its oldest waiter (if any) gets it. Lock held. */
static void slot_release(srv_module *m) {
  srv_job *j = m->q_head;
  if (!j) {
    m->running--;
    return;
  }
  m->q_head = j->next;
  if (!m->q_head) m->q_tail = NULL;
  m->waiting--;
  P.queued--;
  ready_push(j); /* the slot passes to it: running is unchanged */
}

static void *runner_main(void *arg) {
  runner *self = arg;
  tls_runner = self;
  pthread_mutex_lock(&P.lock);
  for (;;) {
    while (!P.stopping && (!P.ready_head || P.active >= P.target)) {
      P.idle++;
      pthread_cond_wait(&P.work, &P.lock);
      P.idle--;
    }
    if (!P.ready_head) break; /* stopping, nothing left */
    srv_job *j = ready_pop();
    P.active++;
    self->job = j;
    self->started_ns = base_now_ns();
    self->demoted = false;
    if (P.ready_head && P.active < P.target) wake_runner();
    nudge_monitor();
    pthread_mutex_unlock(&P.lock);

    srv_module *m = j->mod; /* j may be reused once fn has answered */
    j->fn(j, SRV_OK, NULL);

    pthread_mutex_lock(&P.lock);
    if (!self->demoted) P.active--;
    self->job = NULL;
    slot_release(m);
    nudge_monitor();
  }
  pthread_mutex_unlock(&P.lock);
  return NULL;
}

/* Demotes runners on a long job while others wait, and refuses the jobs
 * that waited too long for a module slot. */
static void *monitor_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&P.lock);
  while (!P.stopping) {
    uint64_t now = base_now_ns();
    if (P.ready_head && P.active >= P.target) {
      for (unsigned i = 0; i < P.nthreads; i++) {
        runner *r = &P.runners[i];
        if (r->job && !r->demoted && now - r->started_ns > SRV_POOL_LONG_MS * 1000000ull) {
          r->demoted = true;
          P.active--;
        }
      }
      wake_runner();
    }
    srv_job *expired = NULL, **tail = &expired;
    if (P.queued) {
      for (size_t i = 0; i < P.nmods; i++) {
        srv_module *m = &P.mods[i];
        while (m->q_head && m->q_head->expires_ns <= now) {
          srv_job *j = m->q_head;
          m->q_head = j->next;
          if (!m->q_head) m->q_tail = NULL;
          m->waiting--;
          P.queued--;
          j->next = NULL;
          *tail = j;
          tail = &j->next;
        }
      }
    }
    if (expired) {
      pthread_mutex_unlock(&P.lock);
      while (expired) {
        srv_job *j = expired;
        expired = j->next;
        char err[160];
        base_set_err(err, sizeof err, "busy: waited %u ms for one of %u run slots", j->wait_ms,
                     j->mod->limits.max_concurrency);
        j->fn(j, SRV_ERR_BUSY, err);
      }
      pthread_mutex_lock(&P.lock);
      continue;
    }
    if (P.queued || P.ready_head) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_nsec += SRV_POOL_TICK_MS * 1000000l;
      if (ts.tv_nsec >= 1000000000l) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000l;
      }
      pthread_cond_timedwait(&P.mon, &P.lock, &ts);
    } else {
      P.mon_sleeping = true;
      pthread_cond_wait(&P.mon, &P.lock);
      P.mon_sleeping = false;
    }
  }
  pthread_mutex_unlock(&P.lock);
  return NULL;
}

void srv_pool_blocking(void) {
  runner *self = tls_runner;
  if (!self) return; /* not a runner (e.g. `_routes` at startup) */
  pthread_mutex_lock(&P.lock);
  if (self->job && !self->demoted) {
    self->demoted = true;
    P.active--;
    wake_runner();
  }
  pthread_mutex_unlock(&P.lock);
}

unsigned srv_pool_default_workers(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1u : n > 64 ? 64u : (unsigned)n;
}

srv_status srv_pool_start(srv_module *mods, size_t nmods, unsigned workers, char *err,
                          size_t errlen) {
  P.target = workers ? workers : srv_pool_default_workers();
  P.mods = mods;
  P.nmods = nmods;
  P.runners = calloc(SRV_POOL_MAX_THREADS, sizeof *P.runners);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&P.work, NULL);
  pthread_cond_init(&P.mon, &ca);
  pthread_condattr_destroy(&ca);
  P.started = true;
  if (!P.runners) {
    base_set_err(err, errlen, "out of memory starting the runners");
    return SRV_ERR_NOMEM;
  }
  /* The first `target` runners start now, so that a thread-creation
   * failure is a startup error rather than a stall under load. */
  pthread_mutex_lock(&P.lock);
  for (unsigned i = 0; i < P.target; i++) {
    runner *r = &P.runners[P.nthreads];
    int rc = pthread_create(&r->thread, NULL, runner_main, r);
    if (rc != 0) {
      pthread_mutex_unlock(&P.lock);
      base_set_err(err, errlen, "cannot start runner threads: %s", strerror(rc));
      return SRV_ERR_SYSTEM;
    }
    P.nthreads++;
  }
  pthread_mutex_unlock(&P.lock);
  int rc = pthread_create(&P.mon_thread, NULL, monitor_main, NULL);
  if (rc != 0) {
    base_set_err(err, errlen, "cannot start the runner monitor thread: %s", strerror(rc));
    return SRV_ERR_SYSTEM;
  }
  P.mon_started = true;
  return SRV_OK;
}

srv_status srv_pool_submit(srv_job *j, char *err, size_t errlen) {
  srv_module *m = j->mod;
  uint32_t max = m->limits.max_concurrency;
  pthread_mutex_lock(&P.lock);
  if (P.stopping) {
    pthread_mutex_unlock(&P.lock);
    base_set_err(err, errlen, "the server is shutting down");
    return SRV_ERR_STOPPING;
  }
  if (m->running < max && !m->q_head) {
    m->running++;
    ready_push(j);
    wake_runner();
    nudge_monitor();
    pthread_mutex_unlock(&P.lock);
    return SRV_OK;
  }
  if (m->waiting >= max * SRV_QUEUE_FACTOR) {
    uint32_t w = m->waiting;
    pthread_mutex_unlock(&P.lock);
    base_set_err(err, errlen, "busy: %u running, %u queued (limit %u)", max, w, max);
    return SRV_ERR_BUSY;
  }
  j->wait_ms = m->limits.timeout_ms < SRV_QUEUE_WAIT_MS ? m->limits.timeout_ms : SRV_QUEUE_WAIT_MS;
  j->expires_ns = base_now_ns() + (uint64_t)j->wait_ms * 1000000ull;
  j->next = NULL;
  if (m->q_tail) m->q_tail->next = j;
  else m->q_head = j;
  m->q_tail = j;
  m->waiting++;
  P.queued++;
  if (P.mon_sleeping) pthread_cond_signal(&P.mon);
  pthread_mutex_unlock(&P.lock);
  return SRV_OK;
}

void srv_pool_stop(void) {
  if (!P.started) return;
  pthread_mutex_lock(&P.lock);
  P.stopping = true;
  /* Jobs still waiting for a module slot are refused; the ready queue is
   * run to the end (its jobs hold slots and their clients wait). */
  srv_job *refused = NULL;
  for (size_t i = 0; i < P.nmods; i++) {
    srv_module *m = &P.mods[i];
    while (m->q_head) {
      srv_job *j = m->q_head;
      m->q_head = j->next;
      m->waiting--;
      P.queued--;
      j->next = refused;
      refused = j;
    }
    m->q_tail = NULL;
  }
  pthread_cond_broadcast(&P.work);
  pthread_cond_broadcast(&P.mon);
  unsigned n = P.nthreads;
  pthread_mutex_unlock(&P.lock);
  while (refused) {
    srv_job *j = refused;
    refused = j->next;
    j->fn(j, SRV_ERR_STOPPING, "interrupted: the server is shutting down");
  }
  if (P.mon_started) pthread_join(P.mon_thread, NULL);
  /* Runners only start before `stopping`, and never after: n is final. */
  for (unsigned i = 0; i < n; i++) pthread_join(P.runners[i].thread, NULL);
  free(P.runners);
  P.runners = NULL;
  P.nthreads = 0;
  P.started = P.mon_started = false;
}

void srv_pool_stats(unsigned *threads, unsigned *target) {
  pthread_mutex_lock(&P.lock);
  *threads = P.nthreads;
  *target = P.target;
  pthread_mutex_unlock(&P.lock);
}
