/* egload.c — load generator for `wagi eventgrid` (bench/eventgrid/run.sh).
 *
 *   egload fsync DIR SECONDS [BYTES]
 *       appends BYTES (default 300) and fdatasyncs, in a loop, to a scratch
 *       file in DIR: the filesystem's raw rate, the ceiling of a topic that
 *       fdatasyncs every publish before answering.
 *   egload publish PORT KEY CONNECTIONS BATCH SECONDS
 *       CONNECTIONS threads, each with one keep-alive connection, POST
 *       batches of BATCH events back to back for SECONDS.
 *   egload latency PORT KEY SUBPORT RATE COUNT
 *       a webhook subscriber on 127.0.0.1:SUBPORT (answers the validation
 *       handshake, timestamps every notification) and, once validated, one
 *       publisher sending COUNT single-event batches at RATE/s; every event
 *       carries its publish time (CLOCK_REALTIME, µs) in data.t.
 *
 * Each prints one line of NAME=VALUE fields. Loopback only; every loop is
 * bounded by time or count. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t real_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

/* ---- samples -------------------------------------------------------------------- */

typedef struct {
  double *v;
  size_t n, cap;
} samples;

static void add(samples *s, double x) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 4096;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    if (!s->v) die("realloc");
  }
  s->v[s->n++] = x;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(samples *s, double p) {
  if (!s->n) return 0;
  size_t i = (size_t)(p * (double)(s->n - 1) + 0.5);
  return s->v[i];
}

/* ---- a minimal HTTP/1.1 client on one keep-alive connection -------------------- */

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

typedef struct {
  char buf[65536];
  size_t len;
} rbuf;

/* Reads one HTTP message head + Content-Length body from fd into b (leftover
 * bytes stay for the next call). Returns the head length (body follows),
 * with *body_len set, or -1 on EOF/error. */
static long read_message(int fd, rbuf *b, size_t *body_len) {
  for (;;) {
    char *end = memmem(b->buf, b->len, "\r\n\r\n", 4);
    if (end) {
      size_t head = (size_t)(end - b->buf) + 4;
      size_t cl = 0;
      for (char *p = b->buf; p < end; p++) {
        if ((*p == '\n') && strncasecmp(p + 1, "content-length:", 15) == 0) {
          cl = strtoul(p + 16, NULL, 10);
          break;
        }
      }
      if (head + cl > sizeof b->buf) return -1;
      while (b->len < head + cl) {
        ssize_t r = read(fd, b->buf + b->len, sizeof b->buf - b->len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        b->len += (size_t)r;
      }
      *body_len = cl;
      return (long)head;
    }
    if (b->len == sizeof b->buf) return -1;
    ssize_t r = read(fd, b->buf + b->len, sizeof b->buf - b->len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    b->len += (size_t)r;
  }
}

static void consume(rbuf *b, size_t n) {
  memmove(b->buf, b->buf + n, b->len - n);
  b->len -= n;
}

/* POSTs body to the topic on *fd (reconnecting when the server closed it).
 * Returns the HTTP status, or -1 when no response came. */
static int post_events(int *fd, rbuf *b, int port, const char *key, const char *body,
                       size_t blen) {
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "POST /api/events?api-version=2018-01-01 HTTP/1.1\r\n"
                    "Host: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                    "aeg-sas-key: %s\r\nContent-Length: %zu\r\n\r\n",
                    port, key, blen);
  for (int attempt = 0; attempt < 2; attempt++) {
    if (*fd < 0) {
      *fd = connect_to(port);
      b->len = 0;
      if (*fd < 0) return -1;
    }
    size_t bl = 0;
    long h;
    if (write_all(*fd, head, (size_t)hl) == 0 && write_all(*fd, body, blen) == 0 &&
        (h = read_message(*fd, b, &bl)) > 0) {
      int status = 0;
      sscanf(b->buf, "HTTP/1.%*d %d", &status);
      int closing = memmem(b->buf, (size_t)h, "onnection: close", 16) != NULL;
      consume(b, (size_t)h + bl);
      if (closing) {
        close(*fd);
        *fd = -1;
      }
      return status;
    }
    close(*fd); /* a keep-alive connection the server had closed: once more */
    *fd = -1;
  }
  return -1;
}

/* One event of the Event Grid schema, about 250 bytes. */
static size_t put_event(char *p, size_t cap, const char *run, long seq, int64_t t_us) {
  return (size_t)snprintf(p, cap,
                          "{\"id\":\"%s-%ld\",\"subject\":\"/bench/%ld\",\"eventType\":"
                          "\"Bench.Event\",\"eventTime\":\"2024-01-01T00:00:00Z\",\"data\":"
                          "{\"t\":%lld,\"seq\":%ld,\"pad\":\"0123456789abcdef0123456789abcdef"
                          "0123456789abcdef0123456789abcdef\"},\"dataVersion\":\"1\"}",
                          run, seq, seq, (long long)t_us, seq);
}

/* ---- fsync ---------------------------------------------------------------------- */

static int cmd_fsync(const char *dir, double secs, size_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/egload-fsync-probe.%d", dir, (int)getpid());
  int fd = open(path, O_CREAT | O_WRONLY | O_APPEND | O_TRUNC, 0600);
  if (fd < 0) die(path);
  char *rec = malloc(bytes);
  memset(rec, 'x', bytes);
  long n = 0;
  double t0 = now_s(), t;
  do {
    if (write_all(fd, rec, bytes) < 0 || fdatasync(fd) < 0) die("write/fdatasync");
    n++;
  } while ((t = now_s()) - t0 < secs);
  close(fd);
  unlink(path);
  printf("fsyncs=%ld seconds=%.3f fsyncs_per_s=%.0f mean_ms=%.3f\n", n, t - t0, n / (t - t0),
         (t - t0) * 1000 / n);
  return 0;
}

/* ---- publish -------------------------------------------------------------------- */

typedef struct {
  int port, batch, idx;
  const char *key;
  double deadline;
  long batches, errors;
  samples lat;
} pub_arg;

static void *publisher(void *p) {
  pub_arg *a = p;
  size_t cap = (size_t)a->batch * 400 + 16;
  char *body = malloc(cap), run[64];
  snprintf(run, sizeof run, "p%d-%d", (int)getpid(), a->idx);
  rbuf *b = calloc(1, sizeof *b);
  int fd = -1;
  long seq = 0;
  while (now_s() < a->deadline) {
    size_t o = 0;
    body[o++] = '[';
    for (int i = 0; i < a->batch; i++) {
      if (i) body[o++] = ',';
      o += put_event(body + o, cap - o, run, seq++, real_ns() / 1000);
    }
    body[o++] = ']';
    double t0 = now_s();
    int st = post_events(&fd, b, a->port, a->key, body, o);
    if (st == 200) {
      a->batches++;
      add(&a->lat, (now_s() - t0) * 1000);
    } else {
      a->errors++;
      if (st < 0) usleep(10000); /* no server: do not spin */
    }
  }
  if (fd >= 0) close(fd);
  free(body);
  free(b);
  return NULL;
}

static int cmd_publish(int port, const char *key, int conns, int batch, double secs) {
  pub_arg *a = calloc((size_t)conns, sizeof *a);
  pthread_t *th = calloc((size_t)conns, sizeof *th);
  double t0 = now_s();
  for (int i = 0; i < conns; i++) {
    a[i] = (pub_arg){.port = port, .batch = batch, .idx = i, .key = key, .deadline = t0 + secs};
    pthread_create(&th[i], NULL, publisher, &a[i]);
  }
  samples all = {0};
  long batches = 0, errors = 0;
  for (int i = 0; i < conns; i++) {
    pthread_join(th[i], NULL);
    batches += a[i].batches;
    errors += a[i].errors;
    for (size_t j = 0; j < a[i].lat.n; j++) add(&all, a[i].lat.v[j]);
  }
  double el = now_s() - t0;
  qsort(all.v, all.n, sizeof *all.v, cmp_d);
  printf("connections=%d batch=%d seconds=%.3f batches=%ld errors=%ld batches_per_s=%.0f "
         "events_per_s=%.0f p50_ms=%.3f p99_ms=%.3f\n",
         conns, batch, el, batches, errors, batches / el, batches * batch / el, pct(&all, 0.5),
         pct(&all, 0.99));
  return errors ? 1 : 0;
}

/* ---- latency: subscriber + paced publisher ------------------------------------ */

static pthread_mutex_t sub_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sub_cv = PTHREAD_COND_INITIALIZER;
static int validated;
static long delivered, duplicates, count_expected;
static unsigned char *seen;
static samples deliv_lat;

static void *sub_conn(void *p) {
  int fd = (int)(intptr_t)p;
  rbuf *b = calloc(1, sizeof *b);
  size_t bl;
  long h;
  while ((h = read_message(fd, b, &bl)) > 0) {
    int64_t arrived = real_ns();
    char *head = b->buf, *body = b->buf + h;
    char resp[512];
    size_t rl;
    /* NUL-terminate a copy of the body for strstr */
    char *txt = strndup(body, bl);
    if (memmem(head, (size_t)h, "SubscriptionValidation", 22)) {
      char code[128] = "";
      char *c = strstr(txt, "\"validationCode\":\"");
      if (c) sscanf(c + 18, "%127[^\"]", code);
      char js[256];
      int jl = snprintf(js, sizeof js, "{\"validationResponse\":\"%s\"}", code);
      rl = (size_t)snprintf(resp, sizeof resp,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: %d\r\n\r\n%s",
                            jl, js);
      pthread_mutex_lock(&sub_mu);
      validated = 1;
      pthread_cond_broadcast(&sub_cv);
      pthread_mutex_unlock(&sub_mu);
    } else {
      char *t = strstr(txt, "\"t\":"), *s = strstr(txt, "\"seq\":");
      if (t && s) {
        /* data.t is in µs: the topic stores numbers as doubles (cJSON), exact
         * below 2^53, which ns since 1970 are not. */
        double sent_us = strtod(t + 4, NULL);
        long seq = strtol(s + 6, NULL, 10);
        pthread_mutex_lock(&sub_mu);
        if (seq >= 0 && seq < count_expected && !seen[seq]) {
          seen[seq] = 1;
          delivered++;
          add(&deliv_lat, ((double)arrived / 1e3 - sent_us) / 1e3);
        } else {
          duplicates++;
        }
        pthread_cond_broadcast(&sub_cv);
        pthread_mutex_unlock(&sub_mu);
      }
      rl = (size_t)snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
    free(txt);
    consume(b, (size_t)h + bl);
    if (write_all(fd, resp, rl) < 0) break;
  }
  close(fd);
  free(b);
  return NULL;
}

static void *sub_accept(void *p) {
  int lfd = (int)(intptr_t)p;
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t th;
    pthread_create(&th, NULL, sub_conn, (void *)(intptr_t)fd);
    pthread_detach(th);
  }
  return NULL;
}

static int cmd_latency(int port, const char *key, int subport, double rate, long count) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)subport)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 128) < 0) die("subscriber");
  seen = calloc((size_t)count, 1);
  count_expected = count;
  pthread_t th;
  pthread_create(&th, NULL, sub_accept, (void *)(intptr_t)lfd);
  fprintf(stderr, "egload: subscriber listening on 127.0.0.1:%d\n", subport);

  /* Wait (30 s at most) for the topic to validate the subscription. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 30;
  pthread_mutex_lock(&sub_mu);
  while (!validated && pthread_cond_timedwait(&sub_cv, &sub_mu, &until) == 0) {
  }
  int ok = validated;
  pthread_mutex_unlock(&sub_mu);
  if (!ok) {
    fprintf(stderr, "egload: the topic did not validate the subscription in 30 s\n");
    return 1;
  }
  usleep(100000); /* let the topic record the validation */

  rbuf *b = calloc(1, sizeof *b);
  char body[1024], run[32];
  snprintf(run, sizeof run, "l%d", (int)getpid());
  int fd = -1;
  long errors = 0;
  samples pub_lat = {0};
  double t0 = now_s();
  for (long i = 0; i < count; i++) {
    double due = t0 + (double)i / rate;
    double wait = due - now_s();
    if (wait > 0) usleep((useconds_t)(wait * 1e6));
    size_t o = 0;
    body[o++] = '[';
    o += put_event(body + o, sizeof body - o - 2, run, i, real_ns() / 1000);
    body[o++] = ']';
    double p0 = now_s();
    if (post_events(&fd, b, port, key, body, o) == 200)
      add(&pub_lat, (now_s() - p0) * 1000);
    else
      errors++;
  }
  double sent_s = now_s() - t0;
  /* Wait (10 s at most) for the deliveries still on their way. */
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&sub_mu);
  while (delivered < count - errors && pthread_cond_timedwait(&sub_cv, &sub_mu, &until) == 0) {
  }
  qsort(deliv_lat.v, deliv_lat.n, sizeof *deliv_lat.v, cmp_d);
  qsort(pub_lat.v, pub_lat.n, sizeof *pub_lat.v, cmp_d);
  printf("rate=%.0f sent=%ld seconds=%.3f publish_errors=%ld delivered=%ld duplicates=%ld "
         "publish_p50_ms=%.3f publish_p99_ms=%.3f delivery_p50_ms=%.3f delivery_p99_ms=%.3f "
         "delivery_max_ms=%.3f\n",
         rate, count, sent_s, errors, delivered, duplicates, pct(&pub_lat, 0.5),
         pct(&pub_lat, 0.99), pct(&deliv_lat, 0.5), pct(&deliv_lat, 0.99),
         deliv_lat.n ? deliv_lat.v[deliv_lat.n - 1] : 0.0);
  int bad = errors || delivered < count;
  pthread_mutex_unlock(&sub_mu);
  return bad;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "fsync") == 0)
    return cmd_fsync(argv[2], atof(argv[3]), argc > 4 ? (size_t)atol(argv[4]) : 300);
  if (argc == 7 && strcmp(argv[1], "publish") == 0)
    return cmd_publish(atoi(argv[2]), argv[3], atoi(argv[4]), atoi(argv[5]), atof(argv[6]));
  if (argc == 7 && strcmp(argv[1], "latency") == 0)
    return cmd_latency(atoi(argv[2]), argv[3], atoi(argv[4]), atof(argv[5]), atol(argv[6]));
  fprintf(stderr, "usage: egload fsync DIR SECONDS [BYTES]\n"
                  "       egload publish PORT KEY CONNECTIONS BATCH SECONDS\n"
                  "       egload latency PORT KEY SUBPORT RATE COUNT\n");
  return 2;
}
