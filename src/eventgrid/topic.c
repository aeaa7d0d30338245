/* topic.c — what the topic owes each subscription, and the thread that pays
 * it (eventgrid.h).
 *
 * Every accepted event is one "E" record in the log naming the
 * subscriptions it matched; each outcome is another record: "D" delivered,
 * "X" dead-lettered, "F" an attempt failed (with the count so far), "V" a
 * subscription validated (name and endpoint), "N" the next sequence number
 * (written by compaction so that numbers are never reused). All are compact
 * JSON objects with a "t" member. Replaying them rebuilds the state, so a
 * restart delivers exactly what is still owed; only the outcome of an
 * attempt in flight when the process died is unknown, and that attempt is
 * made again (at-least-once).
 *
 * One delivery thread drives every HTTP exchange through libcurl's multi
 * interface: up to max_in_flight per subscription, so a slow subscriber
 * holds up only itself. Per subscription a FIFO holds deliveries due now and
 * a min-heap those waiting for a retry. One mutex guards all state and the
 * log; publishers take it to append and to add their events to the state
 * (not yet queued), the thread for each start and outcome, so compaction,
 * which rewrites the log from the in-memory state under the same mutex, can
 * never miss an event. The fdatasync that makes a publish durable happens
 * outside that mutex, under sync_mu, and covers every publish appended
 * before it: concurrent publishers share one (group commit). */
#include "eventgrid.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"

/* What the thread keeps of a response body: enough for a validation answer. */
#define RESP_MAX 65536
/* Longest wait in curl_multi_poll: bounds how late a stop is noticed. */
#define POLL_MAX_MS 1000

/* T_COMMITTING: logged, waiting for the publish's fdatasync before it is
 * queued (compaction keeps it; the thread does not see it yet). */
enum { T_WAITING, T_INFLIGHT, T_DONE, T_COMMITTING };

typedef struct pevent pevent;

typedef struct {
  pevent *ev;
  uint32_t sub;      /* index into eg_topic.subs */
  uint32_t attempts; /* made so far */
  uint8_t state;
  int64_t next_ms; /* due time while waiting for a retry */
  int last_status; /* HTTP status of the last attempt; 0: no response */
  const char *last_outcome;
  int64_t last_attempt_ms;
} target;

struct pevent {
  uint64_t seq;
  int64_t at_ms; /* accepted, Unix ms */
  char *json;    /* the delivered form */
  size_t len;
  char *id, *data_version;
  uint32_t open; /* targets not yet done */
  pevent *prev, *next;
  uint32_t n_targets;
  target t[];
};

typedef struct {
  const eg_subscription *cfg;
  bool validated, val_inflight;
  uint32_t val_attempts;
  int64_t val_next_ms;
  char code[33];
  target **ready; /* ring: due now */
  size_t r_head, r_len, r_cap;
  target **heap; /* waiting for a retry, by next_ms */
  size_t h_len, h_cap;
  uint32_t inflight;
} sub_rt;

typedef struct xfer {
  CURL *h;
  struct curl_slist *hdrs;
  char *body;
  char *resp;
  size_t rlen;
  target *t; /* NULL: a validation */
  sub_rt *s;
  uint64_t t0_ns;
  struct xfer *prev, *next;
} xfer;

typedef struct {
  char *name;
  uint64_t n;
} dropped_sub;

struct eg_topic {
  const eg_config *cfg;
  char *base_url;
  eg_log *log;
  pthread_mutex_t mu;
  /* Group commit: held for an fdatasync, and by compaction (which swaps the
   * log's file) around its rewrite; taken before mu, never after it. */
  pthread_mutex_t sync_mu;
  uint64_t synced_size, synced_gen; /* under sync_mu: durable up to here */
  CURLM *multi;
  pthread_t thread;
  bool started;
  atomic_bool stop;
  sub_rt *subs;
  size_t n_subs;
  pevent *live_head, *live_tail; /* events with open targets, oldest first */
  uint64_t next_seq;
  uint64_t compacted_size;
  uint64_t rng;
  xfer *xfers;
  /* replay only */
  pevent **rep;
  size_t rep_n, rep_cap;
  dropped_sub *dropped;
  size_t n_dropped;
  char *replay_err;
  uint64_t replayed_events;
};

/* ---- small helpers ------------------------------------------------------------ */

void eg_logf(const char *fmt, ...) {
  char ts[32];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s eventgrid: %s\n", ts, line);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339 UTC with milliseconds. */
static void fmt_time(int64_t ms, char out[32]) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* A publisher-chosen string made safe for one log line. */
static const char *printable(const char *s, char *buf, size_t cap) {
  size_t o = 0;
  for (; *s && o + 4 < cap; s++) buf[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
  if (*s) buf[o++] = '.', buf[o++] = '.', buf[o++] = '.';
  buf[o] = 0;
  return buf;
}

static uint64_t next_random(eg_topic *T) {
  /* xorshift64*: jitter needs spread, not secrecy */
  uint64_t x = T->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  T->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static void random_hex(char *out, size_t nbytes) {
  uint8_t b[32];
  if (nbytes > sizeof b) nbytes = sizeof b;
  if (getrandom(b, nbytes, 0) != (ssize_t)nbytes) {
    /* no entropy source: fall back to the clock (codes are not secrets
     * against the subscriber, which sees them anyway) */
    uint64_t t = base_now_ns();
    for (size_t i = 0; i < nbytes; i++) b[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)i;
  }
  for (size_t i = 0; i < nbytes; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void random_uuid(char out[37]) {
  char h[33];
  random_hex(h, 16);
  h[12] = '4';                       /* version 4 */
  h[16] = "89ab"[(h[16] - '0') & 3]; /* RFC 4122 variant */
  snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

/* ---- queues ------------------------------------------------------------------- */

static int ready_push(sub_rt *s, target *t) {
  if (s->r_len == s->r_cap) {
    size_t nc = s->r_cap ? s->r_cap * 2 : 64;
    target **nr = malloc(nc * sizeof *nr);
    if (!nr) return -1;
    for (size_t i = 0; i < s->r_len; i++) nr[i] = s->ready[(s->r_head + i) % s->r_cap];
    free(s->ready);
    s->ready = nr;
    s->r_cap = nc;
    s->r_head = 0;
  }
  s->ready[(s->r_head + s->r_len++) % s->r_cap] = t;
  return 0;
}

static target *ready_pop(sub_rt *s) {
  if (!s->r_len) return NULL;
  target *t = s->ready[s->r_head];
  s->r_head = (s->r_head + 1) % s->r_cap;
  s->r_len--;
  return t;
}

static int heap_push(sub_rt *s, target *t) {
  if (s->h_len == s->h_cap) {
    size_t nc = s->h_cap ? s->h_cap * 2 : 64;
    target **nh = realloc(s->heap, nc * sizeof *nh);
    if (!nh) return -1;
    s->heap = nh;
    s->h_cap = nc;
  }
  size_t i = s->h_len++;
  while (i && s->heap[(i - 1) / 2]->next_ms > t->next_ms) {
    s->heap[i] = s->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  s->heap[i] = t;
  return 0;
}

static target *heap_pop(sub_rt *s) {
  target *top = s->heap[0], *last = s->heap[--s->h_len];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->h_len) break;
    if (c + 1 < s->h_len && s->heap[c + 1]->next_ms < s->heap[c]->next_ms) c++;
    if (s->heap[c]->next_ms >= last->next_ms) break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (s->h_len) s->heap[i] = last;
  return top;
}

/* ---- events ------------------------------------------------------------------- */

static pevent *pevent_new(uint64_t seq, int64_t at_ms, const char *json, size_t len, const char *id,
                          const char *data_version, uint32_t n_targets) {
  pevent *e = calloc(1, sizeof *e + n_targets * sizeof(target));
  if (!e) return NULL;
  e->json = malloc(len + 1);
  e->id = strdup(id);
  e->data_version = data_version ? strdup(data_version) : NULL;
  if (!e->json || !e->id || (data_version && !e->data_version)) {
    free(e->json);
    free(e->id);
    free(e->data_version);
    free(e);
    return NULL;
  }
  memcpy(e->json, json, len);
  e->json[len] = 0;
  e->len = len;
  e->seq = seq;
  e->at_ms = at_ms;
  e->n_targets = n_targets;
  for (uint32_t i = 0; i < n_targets; i++) e->t[i].ev = e;
  return e;
}

static void pevent_free(pevent *e) {
  if (!e) return;
  free(e->json);
  free(e->id);
  free(e->data_version);
  free(e);
}

static void live_add(eg_topic *T, pevent *e) {
  e->prev = T->live_tail;
  e->next = NULL;
  if (T->live_tail) T->live_tail->next = e;
  else T->live_head = e;
  T->live_tail = e;
}

static void live_remove(eg_topic *T, pevent *e) {
  if (e->prev) e->prev->next = e->next;
  else T->live_head = e->next;
  if (e->next) e->next->prev = e->prev;
  else T->live_tail = e->prev;
}

/* The dataVersion of a delivered-form event, or NULL. */
static char *data_version_of(const char *json, size_t len) {
  cJSON *o = cJSON_ParseWithLength(json, len);
  const cJSON *dv = o ? cJSON_GetObjectItemCaseSensitive(o, "dataVersion") : NULL;
  char *r = cJSON_IsString(dv) ? strdup(dv->valuestring) : NULL;
  cJSON_Delete(o);
  return r;
}

static bool matches(const eg_subscription *s, const eg_event *e) {
  if (s->n_event_types) {
    bool any = false;
    for (size_t i = 0; i < s->n_event_types && !any; i++)
      any = !strcasecmp(s->event_types[i], e->event_type);
    if (!any) return false;
  }
  if (s->subject_begins_with &&
      strncasecmp(e->subject, s->subject_begins_with, strlen(s->subject_begins_with)))
    return false;
  return true;
}

/* ---- records ------------------------------------------------------------------ */

/* An outcome record; subscription names are letters, digits and '-' only. */
static void record_outcome(eg_topic *T, char type, const target *t) {
  char rec[200];
  int n = snprintf(rec, sizeof rec, "{\"t\":\"%c\",\"seq\":%llu,\"sub\":\"%s\",\"n\":%u}", type,
                   (unsigned long long)t->ev->seq, T->subs[t->sub].cfg->name, t->attempts);
  eg_record r = {rec, (size_t)n};
  char err[512];
  if (eg_log_append(T->log, &r, 1, false, err, sizeof err) != EG_OK)
    eg_logf("log: %s (the outcome will be unknown after a restart: the event may be sent again)",
            err);
}

static char *event_record(uint64_t seq, int64_t at_ms, const char *const *subs, size_t n_subs,
                          const char *json, size_t len, size_t *out_len) {
  size_t cap = len + 128;
  for (size_t i = 0; i < n_subs; i++) cap += strlen(subs[i]) + 3;
  char *r = malloc(cap);
  if (!r) return NULL;
  size_t o = (size_t)snprintf(r, cap, "{\"t\":\"E\",\"seq\":%llu,\"at\":%lld,\"subs\":[",
                              (unsigned long long)seq, (long long)at_ms);
  for (size_t i = 0; i < n_subs; i++)
    o += (size_t)snprintf(r + o, cap - o, "%s\"%s\"", i ? "," : "", subs[i]);
  o += (size_t)snprintf(r + o, cap - o, "],\"event\":");
  memcpy(r + o, json, len);
  o += len;
  r[o++] = '}';
  r[o] = 0;
  *out_len = o;
  return r;
}

static char *validated_record(const sub_rt *s, size_t *out_len) {
  cJSON *o = cJSON_CreateObject();
  char *r = NULL;
  if (o && cJSON_AddStringToObject(o, "t", "V") &&
      cJSON_AddStringToObject(o, "sub", s->cfg->name) &&
      cJSON_AddStringToObject(o, "endpoint", s->cfg->endpoint))
    r = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (r) *out_len = strlen(r);
  return r;
}

static void mark_validated(eg_topic *T, sub_rt *s) {
  s->validated = true;
  size_t n = 0;
  char *rec = validated_record(s, &n);
  char err[512];
  eg_record r = {rec, n};
  if (!rec || eg_log_append(T->log, &r, 1, true, err, sizeof err) != EG_OK)
    eg_logf(
        "log: cannot record that subscription %s is validated (%s): it will be validated "
        "again after a restart",
        s->cfg->name, rec ? err : "out of memory");
  free(rec);
}

/* ---- outcomes ----------------------------------------------------------------- */

static void finish(eg_topic *T, target *t) {
  t->state = T_DONE;
  pevent *e = t->ev;
  if (--e->open == 0) {
    live_remove(T, e);
    pevent_free(e);
  }
}

static int write_file_durably(const char *path, const char *data, size_t len) {
  size_t plen = strlen(path) + 5;
  char *tmp = malloc(plen);
  if (!tmp) return -1;
  snprintf(tmp, plen, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int rc = -1;
  if (fd >= 0) {
    rc = base_write_all(fd, data, len) == 0 && fdatasync(fd) == 0 ? 0 : -1;
    if (close(fd) != 0) rc = -1; /* closed once, whatever happened */
    if (rc == 0) rc = rename(tmp, path);
    if (rc < 0) unlink(tmp);
  }
  free(tmp);
  return rc;
}

/* Writes the dead-letter file, records the outcome, then logs the attempt
 * line (stext/ms: the last attempt's status and time, "-" when none). */
static void dead_letter(eg_topic *T, target *t, const char *reason, const char *stext, double ms) {
  const char *sub = T->subs[t->sub].cfg->name;
  pevent *e = t->ev;
  char idbuf[256], tbuf[32], path[4096];
  /* the file name: SEQ-ID with ID reduced to a safe alphabet */
  char safe_id[101];
  size_t k = 0;
  for (const char *p = e->id; *p && k < sizeof safe_id - 1; p++)
    safe_id[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'
                       ? *p
                       : '_';
  safe_id[k] = 0;
  cJSON *ev = cJSON_ParseWithLength(e->json, e->len);
  cJSON *arr = cJSON_CreateArray();
  char *text = NULL;
  if (ev && arr) {
    cJSON_AddStringToObject(ev, "deadLetterReason", reason);
    cJSON_AddNumberToObject(ev, "deliveryAttempts", t->attempts);
    cJSON_AddStringToObject(ev, "lastDeliveryOutcome",
                            t->last_outcome ? t->last_outcome : "NotAttempted");
    cJSON_AddNumberToObject(ev, "lastHttpStatusCode", t->last_status);
    fmt_time(e->at_ms, tbuf);
    cJSON_AddStringToObject(ev, "publishTime", tbuf);
    if (t->last_attempt_ms) {
      fmt_time(t->last_attempt_ms, tbuf);
      cJSON_AddStringToObject(ev, "lastDeliveryAttemptTime", tbuf);
    }
    cJSON_AddStringToObject(ev, "subscription", sub);
    cJSON_AddItemToArray(arr, ev);
    ev = NULL;
    text = cJSON_Print(arr);
  }
  cJSON_Delete(ev);
  cJSON_Delete(arr);
  int rc = -1;
  if (text) {
    snprintf(path, sizeof path, "%s/deadletter", T->cfg->data_dir);
    (void)mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/deadletter/%s", T->cfg->data_dir, sub);
    (void)mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/deadletter/%s/%llu-%s.json", T->cfg->data_dir, sub,
             (unsigned long long)e->seq, safe_id);
    rc = write_file_durably(path, text, strlen(text));
  }
  free(text);
  if (rc < 0) {
    /* Not recorded as done: the topic keeps it and tries again later
     * rather than lose it. */
    eg_logf(
        "delivery: event=%s subscription=%s: cannot write the dead-letter file %s: %s; "
        "kept, will retry",
        printable(e->id, idbuf, sizeof idbuf), sub, path, strerror(errno));
    t->next_ms = now_ms() + 60000;
    t->state = T_WAITING;
    if (heap_push(&T->subs[t->sub], t) < 0) eg_logf("out of memory: event dropped from memory");
    return;
  }
  record_outcome(T, 'X', t);
  eg_logf("delivery: event=%s subscription=%s attempt=%u status=%s ms=%.1f dead-lettered (%s)",
          printable(e->id, idbuf, sizeof idbuf), sub, t->attempts, stext, ms, reason);
  finish(T, t);
}

/* ---- starting exchanges ------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  xfer *x = ud;
  size_t len = size * n;
  size_t take = x->rlen < RESP_MAX ? RESP_MAX - x->rlen : 0;
  if (take > len) take = len;
  if (take) {
    char *nr = realloc(x->resp, x->rlen + take + 1);
    if (!nr) return 0;
    x->resp = nr;
    memcpy(x->resp + x->rlen, p, take);
    x->rlen += take;
    x->resp[x->rlen] = 0;
  }
  return len;
}

static void xfer_free(eg_topic *T, xfer *x) {
  if (x->h) {
    curl_multi_remove_handle(T->multi, x->h);
    curl_easy_cleanup(x->h);
  }
  if (x->prev) x->prev->next = x->next;
  else if (T->xfers == x) T->xfers = x->next;
  if (x->next) x->next->prev = x->prev;
  curl_slist_free_all(x->hdrs);
  free(x->body);
  free(x->resp);
  free(x);
}

/* Starts a POST of body (owned by the exchange from here on). */
static int start_post(eg_topic *T, sub_rt *s, target *t, char *body, const char *event_type,
                      uint32_t delivery_count, const char *data_version) {
  xfer *x = calloc(1, sizeof *x);
  if (!x) {
    free(body);
    return -1;
  }
  x->body = body;
  x->s = s;
  x->t = t;
  x->h = curl_easy_init();
  char hdr[300];
  struct curl_slist *h = NULL, *n;
#define ADD(...)                                                                                   \
  do {                                                                                             \
    snprintf(hdr, sizeof hdr, __VA_ARGS__);                                                        \
    if (!(n = curl_slist_append(h, hdr))) goto fail;                                               \
    h = n;                                                                                         \
  } while (0)
  ADD("Content-Type: application/json; charset=utf-8");
  ADD("aeg-event-type: %s", event_type);
  ADD("aeg-subscription-name: %s", s->cfg->name);
  ADD("aeg-delivery-count: %u", delivery_count);
  ADD("aeg-metadata-version: 1");
  if (data_version) {
    /* a header value must be printable ASCII: leave out anything else */
    bool ok = strlen(data_version) < 200;
    for (const char *p = data_version; *p && ok; p++) ok = *p >= 0x20 && *p < 0x7f;
    if (ok) ADD("aeg-data-version: %s", data_version);
  }
  ADD("Expect:");
#undef ADD
  x->hdrs = h;
  if (!x->h) goto fail;
  curl_easy_setopt(x->h, CURLOPT_URL, s->cfg->endpoint);
  curl_easy_setopt(x->h, CURLOPT_POST, 1L);
  curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, x->body);
  curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
  curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
  curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
  curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, (long)T->cfg->delivery_timeout_ms);
  curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, (long)T->cfg->delivery_timeout_ms);
  curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(x->h, CURLOPT_USERAGENT, "wagi-eventgrid");
  /* A new connection per exchange: on a reused connection that the peer
   * closes without answering, libcurl re-sends the request by itself, and a
   * subscriber would see a POST the topic never counted. */
  curl_easy_setopt(x->h, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(x->h, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (curl_multi_add_handle(T->multi, x->h) != CURLM_OK) goto fail;
  x->t0_ns = base_now_ns();
  x->next = T->xfers;
  if (T->xfers) T->xfers->prev = x;
  T->xfers = x;
  s->inflight++;
  return 0;
fail:
  x->hdrs = h;
  if (x->h) curl_easy_cleanup(x->h);
  x->h = NULL;
  curl_slist_free_all(x->hdrs);
  free(x->body);
  free(x);
  return -1;
}

static void start_delivery(eg_topic *T, sub_rt *s, target *t) {
  pevent *e = t->ev;
  char *body = malloc(e->len + 3);
  if (body) {
    body[0] = '[';
    memcpy(body + 1, e->json, e->len);
    body[e->len + 1] = ']';
    body[e->len + 2] = 0;
  }
  uint32_t count = t->attempts;
  t->attempts++;
  t->state = T_INFLIGHT;
  t->last_attempt_ms = now_ms();
  if (!body || start_post(T, s, t, body, "Notification", count, e->data_version) < 0) {
    /* cannot even start: count it as a failed attempt, retried later */
    t->attempts--;
    t->state = T_WAITING;
    t->next_ms = now_ms() + 1000;
    if (heap_push(s, t) < 0) eg_logf("out of memory: a delivery is lost from memory");
  }
}

static void start_validation(eg_topic *T, sub_rt *s) {
  if (!s->code[0]) random_hex(s->code, 16);
  char id[37], when[32], url[1024];
  random_uuid(id);
  fmt_time(now_ms(), when);
  snprintf(url, sizeof url, "%s/api/validate?subscription=%s&code=%s", T->base_url, s->cfg->name,
           s->code);
  cJSON *arr = cJSON_CreateArray(), *ev = cJSON_CreateObject(), *data = cJSON_CreateObject();
  char *body = NULL;
  if (arr && ev && data) {
    cJSON_AddStringToObject(ev, "id", id);
    cJSON_AddStringToObject(ev, "topic", T->cfg->topic);
    cJSON_AddStringToObject(ev, "subject", "");
    cJSON_AddStringToObject(ev, "eventType", "Microsoft.EventGrid.SubscriptionValidationEvent");
    cJSON_AddStringToObject(ev, "eventTime", when);
    cJSON_AddStringToObject(data, "validationCode", s->code);
    cJSON_AddStringToObject(data, "validationUrl", url);
    cJSON_AddItemToObject(ev, "data", data);
    data = NULL;
    cJSON_AddStringToObject(ev, "dataVersion", "2");
    cJSON_AddStringToObject(ev, "metadataVersion", "1");
    cJSON_AddItemToArray(arr, ev);
    ev = NULL;
    body = cJSON_PrintUnformatted(arr);
  }
  cJSON_Delete(arr);
  cJSON_Delete(ev);
  cJSON_Delete(data);
  s->val_attempts++;
  if (body && start_post(T, s, NULL, body, "SubscriptionValidation", 0, "2") == 0) {
    s->val_inflight = true;
    return;
  }
  s->val_next_ms = now_ms() + 1000;
}

static uint32_t retry_delay_ms(eg_topic *T, uint32_t failures) {
  const eg_config *c = T->cfg;
  size_t i = failures ? failures - 1 : 0;
  if (i >= c->n_retry_delays) i = c->n_retry_delays - 1;
  double d = c->retry_delays_ms[i];
  /* ±20% jitter, as Azure spreads its retries */
  double u = (double)(next_random(T) >> 11) / 9007199254740992.0;
  return (uint32_t)(d * (0.8 + 0.4 * u));
}

/* Starts whatever is due; returns how long the thread may sleep (ms). */
static long schedule(eg_topic *T) {
  int64_t now = now_ms();
  int64_t wake = now + POLL_MAX_MS;
  int64_t ttl_ms = (int64_t)T->cfg->event_ttl_s * 1000;
  for (size_t i = 0; i < T->n_subs; i++) {
    sub_rt *s = &T->subs[i];
    if (!s->validated) {
      /* events waiting for a handshake that never succeeds still expire;
       * the queue is in publication order, so the oldest are in front */
      while (s->r_len && now > s->ready[s->r_head]->ev->at_ms + ttl_ms) {
        target *t = ready_pop(s);
        dead_letter(T, t, "TimeToLiveExceeded", "-", 0.0);
      }
      if (s->r_len && s->ready[s->r_head]->ev->at_ms + ttl_ms + 1 < wake)
        wake = s->ready[s->r_head]->ev->at_ms + ttl_ms + 1;
      if (!s->val_inflight && now >= s->val_next_ms) start_validation(T, s);
      if (!s->val_inflight && s->val_next_ms < wake) wake = s->val_next_ms;
      continue;
    }
    while (s->h_len && s->heap[0]->next_ms <= now) {
      target *t = heap_pop(s);
      if (ready_push(s, t) < 0) {
        heap_push(s, t); /* cannot fail: the slot was just freed */
        break;
      }
    }
    while (s->inflight < T->cfg->max_in_flight && s->r_len) {
      target *t = ready_pop(s);
      if (now > t->ev->at_ms + ttl_ms) {
        dead_letter(T, t, "TimeToLiveExceeded", "-", 0.0);
        continue;
      }
      start_delivery(T, s, t);
    }
    if (s->h_len && s->heap[0]->next_ms < wake) wake = s->heap[0]->next_ms;
  }
  return wake <= now ? 0 : (long)(wake - now);
}

/* ---- finished exchanges ------------------------------------------------------- */

typedef enum { RES_DELIVERED, RES_DEAD, RES_RETRY } result_class;

static result_class classify(CURLcode cc, long status, const char **outcome, char *stext,
                             size_t stlen) {
  if (cc == CURLE_OPERATION_TIMEDOUT) {
    *outcome = "TimedOut";
    snprintf(stext, stlen, "timeout");
    return RES_RETRY;
  }
  if (cc == CURLE_COULDNT_CONNECT) {
    *outcome = "ConnectionRefused";
    snprintf(stext, stlen, "refused");
    return RES_RETRY;
  }
  if (cc != CURLE_OK) {
    *outcome = "NetworkError";
    snprintf(stext, stlen, "error");
    return RES_RETRY;
  }
  snprintf(stext, stlen, "%ld", status);
  if (status >= 200 && status <= 204) {
    *outcome = "Delivered";
    return RES_DELIVERED;
  }
  switch (status) {
  case 400: *outcome = "BadRequest"; return RES_DEAD;
  case 401: *outcome = "Unauthorized"; return RES_DEAD;
  case 403: *outcome = "Forbidden"; return RES_DEAD;
  case 413: *outcome = "RequestEntityTooLarge"; return RES_DEAD;
  case 404: *outcome = "NotFound"; return RES_RETRY;
  default: *outcome = status >= 500 ? "ServerError" : "UnexpectedStatus"; return RES_RETRY;
  }
}

static bool validation_answered(const xfer *x, long status) {
  if (status != 200 || !x->resp) return false;
  cJSON *o = cJSON_ParseWithLength(x->resp, x->rlen);
  const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, "validationResponse") : NULL;
  bool ok = cJSON_IsString(v) && !strcmp(v->valuestring, x->s->code);
  cJSON_Delete(o);
  return ok;
}

static void on_validation_done(eg_topic *T, xfer *x, CURLcode cc, long status, double ms) {
  sub_rt *s = x->s;
  s->val_inflight = false;
  if (s->validated) return; /* validated meanwhile through the validationUrl */
  const char *outcome;
  char stext[32];
  classify(cc, status, &outcome, stext, sizeof stext);
  if (cc == CURLE_OK && validation_answered(x, status)) {
    eg_logf("validation: subscription=%s attempt=%u status=%s ms=%.1f validated", s->cfg->name,
            s->val_attempts, stext, ms);
    mark_validated(T, s);
    return;
  }
  uint32_t d = retry_delay_ms(T, s->val_attempts);
  s->val_next_ms = now_ms() + d;
  const char *why = cc != CURLE_OK  ? curl_easy_strerror(cc)
                    : status != 200 ? "not 200"
                                    : "no matching validationResponse in the answer";
  eg_logf("validation: subscription=%s attempt=%u status=%s ms=%.1f retry in %.3g s (%s)",
          s->cfg->name, s->val_attempts, stext, ms, d / 1000.0, why);
}

static void on_delivery_done(eg_topic *T, xfer *x, CURLcode cc, long status, double ms) {
  sub_rt *s = x->s;
  target *t = x->t;
  const char *outcome;
  char stext[32], idbuf[256];
  result_class rc = classify(cc, status, &outcome, stext, sizeof stext);
  const char *id = printable(t->ev->id, idbuf, sizeof idbuf);
  t->last_status = cc == CURLE_OK ? (int)status : 0;
  t->last_outcome = outcome;
  if (rc == RES_DELIVERED) {
    record_outcome(T, 'D', t);
    eg_logf("delivery: event=%s subscription=%s attempt=%u status=%s ms=%.1f delivered", id,
            s->cfg->name, t->attempts, stext, ms);
    finish(T, t);
    return;
  }
  const char *reason = NULL;
  uint32_t d = 0;
  if (rc == RES_DEAD) reason = "NonRetriableStatus";
  else if (t->attempts >= T->cfg->max_attempts) reason = "MaxDeliveryAttemptsExceeded";
  else {
    d = retry_delay_ms(T, t->attempts);
    t->next_ms = now_ms() + d;
    if (t->next_ms > t->ev->at_ms + (int64_t)T->cfg->event_ttl_s * 1000)
      reason = "TimeToLiveExceeded";
  }
  if (reason) {
    dead_letter(T, t, reason, stext, ms);
    return;
  }
  record_outcome(T, 'F', t);
  eg_logf("delivery: event=%s subscription=%s attempt=%u status=%s ms=%.1f retry in %.3g s", id,
          s->cfg->name, t->attempts, stext, ms, d / 1000.0);
  t->state = T_WAITING;
  if (heap_push(s, t) < 0) eg_logf("out of memory: a delivery is lost from memory until restart");
}

static void on_done(eg_topic *T, CURL *h, CURLcode cc) {
  xfer *x = NULL;
  curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
  if (!x) return;
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  double ms = (double)(base_now_ns() - x->t0_ns) / 1e6;
  x->s->inflight--;
  if (x->t) on_delivery_done(T, x, cc, status, ms);
  else on_validation_done(T, x, cc, status, ms);
  xfer_free(T, x);
}

/* ---- compaction --------------------------------------------------------------- */

static void compact(eg_topic *T) {
  uint64_t before = eg_log_size(T->log);
  size_t cap = 16, n = 0, kept = 0;
  eg_record *recs = malloc(cap * sizeof *recs);
  bool ok = recs != NULL;
#define PUSH(p, l)                                                                                 \
  do {                                                                                             \
    if (n == cap) {                                                                                \
      eg_record *nr = realloc(recs, (cap *= 2) * sizeof *nr);                                      \
      if (!nr) {                                                                                   \
        free(p);                                                                                   \
        ok = false;                                                                                \
        break;                                                                                     \
      }                                                                                            \
      recs = nr;                                                                                   \
    }                                                                                              \
    recs[n].data = (p);                                                                            \
    recs[n++].len = (l);                                                                           \
  } while (0)
  if (ok) {
    char *r = malloc(64);
    if (r) {
      int l = snprintf(r, 64, "{\"t\":\"N\",\"next\":%llu}", (unsigned long long)T->next_seq);
      PUSH(r, (size_t)l);
    } else ok = false;
  }
  for (size_t i = 0; ok && i < T->n_subs; i++) {
    if (!T->subs[i].validated) continue;
    size_t l = 0;
    char *r = validated_record(&T->subs[i], &l);
    if (!r) ok = false;
    else PUSH(r, l);
  }
  for (pevent *e = T->live_head; ok && e; e = e->next) {
    const char *names[64];
    const char **subs = e->n_targets <= 64 ? names : malloc(e->n_targets * sizeof *subs);
    if (!subs) {
      ok = false;
      break;
    }
    size_t ns = 0;
    for (uint32_t k = 0; k < e->n_targets; k++)
      if (e->t[k].state != T_DONE) subs[ns++] = T->subs[e->t[k].sub].cfg->name;
    size_t l = 0;
    char *r = event_record(e->seq, e->at_ms, subs, ns, e->json, e->len, &l);
    if (subs != names) free(subs);
    if (!r) {
      ok = false;
      break;
    }
    PUSH(r, l);
    kept++;
    /* the failures so far: the delivery count goes on after a restart */
    for (uint32_t k = 0; ok && k < e->n_targets; k++) {
      const target *t = &e->t[k];
      if (t->state == T_DONE || !t->attempts) continue;
      /* an attempt in flight is not a failure yet */
      uint32_t failed = t->state == T_INFLIGHT ? t->attempts - 1 : t->attempts;
      if (!failed) continue;
      char *f = malloc(200);
      if (!f) {
        ok = false;
        break;
      }
      int fl = snprintf(f, 200, "{\"t\":\"F\",\"seq\":%llu,\"sub\":\"%s\",\"n\":%u}",
                        (unsigned long long)e->seq, T->subs[t->sub].cfg->name, failed);
      PUSH(f, (size_t)fl);
    }
  }
#undef PUSH
  char err[512];
  if (!ok) eg_logf("log: not compacted: out of memory");
  else if (eg_log_rewrite(T->log, recs, n, err, sizeof err) != EG_OK)
    eg_logf("log: not compacted: %s", err);
  else
    eg_logf("log: compacted: %zu undelivered event%s kept, %llu -> %llu bytes", kept,
            kept == 1 ? "" : "s", (unsigned long long)before,
            (unsigned long long)eg_log_size(T->log));
  /* whatever happened, do not try again before the log has grown again */
  T->compacted_size = eg_log_size(T->log);
  for (size_t i = 0; i < n; i++) free((void *)recs[i].data);
  free(recs);
}

static bool compaction_due(eg_topic *T) {
  uint64_t limit = T->cfg->log_compact_bytes;
  if (2 * T->compacted_size > limit) limit = 2 * T->compacted_size;
  return eg_log_size(T->log) > limit;
}

/* Called with mu held; returns with it held. */
static void maybe_compact(eg_topic *T) {
  if (!compaction_due(T)) return;
  /* sync_mu comes first: no publisher's fdatasync may run on the file the
   * rewrite replaces */
  pthread_mutex_unlock(&T->mu);
  pthread_mutex_lock(&T->sync_mu);
  pthread_mutex_lock(&T->mu);
  if (compaction_due(T)) compact(T);
  pthread_mutex_unlock(&T->sync_mu);
}

/* ---- the thread --------------------------------------------------------------- */

/* How long a stop waits for deliveries in flight to be answered, so that
 * their outcome is recorded and they are not sent again after a restart. */
#define DRAIN_NS (5ull * 1000000000ull)

static void *deliver_loop(void *arg) {
  eg_topic *T = arg;
  uint64_t drain_until = 0;
  for (;;) {
    /* T->xfers is only touched by this thread */
    bool stopping = atomic_load(&T->stop);
    if (stopping && !drain_until) {
      drain_until = base_now_ns() + DRAIN_NS;
      size_t n = 0;
      for (xfer *x = T->xfers; x; x = x->next) n++;
      if (n)
        eg_logf("delivery: waiting up to 5 s for %zu exchange%s in flight", n, n == 1 ? "" : "s");
    }
    if (stopping && (!T->xfers || base_now_ns() > drain_until)) break;
    long wait = 100;
    if (!stopping) {
      pthread_mutex_lock(&T->mu);
      wait = schedule(T);
      pthread_mutex_unlock(&T->mu);
    }
    int running = 0;
    curl_multi_perform(T->multi, &running);
    int q, finished = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(T->multi, &q))) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL *h = m->easy_handle;
      CURLcode cc = m->data.result;
      pthread_mutex_lock(&T->mu);
      on_done(T, h, cc);
      pthread_mutex_unlock(&T->mu);
      finished++;
    }
    if (finished) {
      pthread_mutex_lock(&T->mu);
      maybe_compact(T);
      pthread_mutex_unlock(&T->mu);
      continue; /* start what the outcomes made due before sleeping */
    }
    curl_multi_poll(T->multi, NULL, 0, (int)(stopping && wait > 100 ? 100 : wait), NULL);
  }
  return NULL;
}

/* ---- replay ------------------------------------------------------------------- */

static sub_rt *sub_by_name(eg_topic *T, const char *name) {
  for (size_t i = 0; i < T->n_subs; i++)
    if (!strcasecmp(T->subs[i].cfg->name, name)) return &T->subs[i];
  return NULL;
}

static pevent *rep_find(eg_topic *T, uint64_t seq) {
  size_t lo = 0, hi = T->rep_n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (T->rep[mid]->seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo < T->rep_n && T->rep[lo]->seq == seq ? T->rep[lo] : NULL;
}

static int note_dropped(eg_topic *T, const char *name) {
  for (size_t i = 0; i < T->n_dropped; i++)
    if (!strcasecmp(T->dropped[i].name, name)) return T->dropped[i].n++, 0;
  dropped_sub *nd = realloc(T->dropped, (T->n_dropped + 1) * sizeof *nd);
  if (!nd) return -1;
  T->dropped = nd;
  if (!(nd[T->n_dropped].name = strdup(name))) return -1;
  nd[T->n_dropped++].n = 1;
  return 0;
}

static int replay_fail(eg_topic *T, const char *msg) {
  if (!T->replay_err) T->replay_err = strdup(msg);
  return -1;
}

static int replay_event(eg_topic *T, const cJSON *o) {
  const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
  const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "at");
  const cJSON *subs = cJSON_GetObjectItemCaseSensitive(o, "subs");
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
  const cJSON *id = ev ? cJSON_GetObjectItemCaseSensitive(ev, "id") : NULL;
  if (!cJSON_IsNumber(seq) || !cJSON_IsNumber(at) || !cJSON_IsArray(subs) || !cJSON_IsObject(ev) ||
      !cJSON_IsString(id))
    return 0; /* not ours to judge: skip a record this version does not know */
  uint64_t sq = (uint64_t)seq->valuedouble;
  T->replayed_events++;
  if (sq >= T->next_seq) T->next_seq = sq + 1;
  uint32_t n = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, subs) {
    if (!cJSON_IsString(s)) continue;
    if (sub_by_name(T, s->valuestring)) n++;
    else if (note_dropped(T, s->valuestring) < 0) return replay_fail(T, "out of memory");
  }
  if (!n) return 0;
  char *json = cJSON_PrintUnformatted(ev);
  if (!json) return replay_fail(T, "out of memory");
  size_t len = strlen(json);
  char *dv = data_version_of(json, len);
  pevent *e = pevent_new(sq, (int64_t)at->valuedouble, json, len, id->valuestring, dv, n);
  free(json);
  free(dv);
  if (!e) return replay_fail(T, "out of memory");
  uint32_t k = 0;
  cJSON_ArrayForEach(s, subs) {
    sub_rt *r = cJSON_IsString(s) ? sub_by_name(T, s->valuestring) : NULL;
    if (!r) continue;
    e->t[k].sub = (uint32_t)(r - T->subs);
    e->t[k++].state = T_WAITING;
  }
  e->open = n;
  if (T->rep_n == T->rep_cap) {
    size_t nc = T->rep_cap ? T->rep_cap * 2 : 256;
    pevent **nr = realloc(T->rep, nc * sizeof *nr);
    if (!nr) {
      pevent_free(e);
      return replay_fail(T, "out of memory");
    }
    T->rep = nr;
    T->rep_cap = nc;
  }
  /* sequence numbers only grow, so rep stays sorted for rep_find */
  if (T->rep_n && T->rep[T->rep_n - 1]->seq >= sq) {
    pevent_free(e);
    return 0;
  }
  T->rep[T->rep_n++] = e;
  return 0;
}

static int replay_record(void *ctx, const uint8_t *payload, size_t len) {
  eg_topic *T = ctx;
  cJSON *o = cJSON_ParseWithLength((const char *)payload, len);
  const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "t") : NULL;
  int rc = 0;
  if (!cJSON_IsString(t)) {
    /* whole and CRC-checked, yet unreadable: refuse rather than guess */
    cJSON_Delete(o);
    return replay_fail(T, "a record that is not a JSON object with a \"t\" member");
  }
  char type = t->valuestring[0];
  if (type == 'E') rc = replay_event(T, o);
  else if (type == 'D' || type == 'X' || type == 'F') {
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(o, "sub");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "n");
    pevent *e = cJSON_IsNumber(seq) ? rep_find(T, (uint64_t)seq->valuedouble) : NULL;
    sub_rt *s = e && cJSON_IsString(sub) ? sub_by_name(T, sub->valuestring) : NULL;
    for (uint32_t k = 0; s && k < e->n_targets; k++) {
      target *tg = &e->t[k];
      if (tg->sub != (uint32_t)(s - T->subs) || tg->state == T_DONE) continue;
      if (cJSON_IsNumber(n)) tg->attempts = (uint32_t)n->valuedouble;
      if (type != 'F') {
        tg->state = T_DONE;
        e->open--;
      }
    }
  } else if (type == 'V') {
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(o, "sub");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "endpoint");
    sub_rt *s = cJSON_IsString(sub) ? sub_by_name(T, sub->valuestring) : NULL;
    if (s && cJSON_IsString(ep)) s->validated = !strcmp(ep->valuestring, s->cfg->endpoint);
  } else if (type == 'N') {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "next");
    if (cJSON_IsNumber(n) && (uint64_t)n->valuedouble > T->next_seq)
      T->next_seq = (uint64_t)n->valuedouble;
  }
  cJSON_Delete(o);
  return rc;
}

/* ---- public ------------------------------------------------------------------- */

eg_status eg_topic_open(const eg_config *cfg, const char *base_url, eg_topic **out, char *err,
                        size_t errlen) {
  eg_topic *T = calloc(1, sizeof *T);
  if (!T || !(T->base_url = strdup(base_url)) ||
      !(T->subs = calloc(cfg->n_subs ? cfg->n_subs : 1, sizeof *T->subs))) {
    if (T) free(T->base_url);
    free(T);
    snprintf(err, errlen, "out of memory");
    return EG_ERR_NOMEM;
  }
  T->cfg = cfg;
  T->n_subs = cfg->n_subs;
  T->next_seq = 1;
  T->rng = base_now_ns() | 1;
  for (size_t i = 0; i < cfg->n_subs; i++) T->subs[i].cfg = &cfg->subs[i];
  pthread_mutex_init(&T->mu, NULL);
  pthread_mutex_init(&T->sync_mu, NULL);
  uint64_t dropped = 0;
  eg_status st = eg_log_open(cfg->data_dir, replay_record, T, &T->log, &dropped, err, errlen);
  if (st != EG_OK && T->replay_err) {
    char *why = strdup(err);
    snprintf(err, errlen, "%s: %s", why ? why : "the log cannot be replayed", T->replay_err);
    free(why);
  }
  if (st != EG_OK) {
    for (size_t i = 0; i < T->rep_n; i++) pevent_free(T->rep[i]);
    T->rep_n = 0;
    eg_topic_close(T);
    return st;
  }
  if (dropped)
    eg_logf("log: dropped a torn or corrupt tail of %llu bytes after the last whole record",
            (unsigned long long)dropped);
  /* what is still owed goes back into the queues, in the order published */
  uint64_t events = T->replayed_events, pending = 0;
  for (size_t i = 0; i < T->rep_n; i++) {
    pevent *e = T->rep[i];
    if (!e->open) {
      pevent_free(e);
      continue;
    }
    live_add(T, e);
    for (uint32_t k = 0; k < e->n_targets; k++)
      if (e->t[k].state == T_WAITING) {
        pending++;
        if (ready_push(&T->subs[e->t[k].sub], &e->t[k]) < 0) {
          snprintf(err, errlen, "out of memory");
          free(T->rep);
          T->rep = NULL;
          T->rep_n = 0;
          eg_topic_close(T);
          return EG_ERR_NOMEM;
        }
      }
  }
  free(T->rep);
  T->rep = NULL;
  T->rep_n = T->rep_cap = 0;
  eg_logf("log: %llu event%s recovered from %s", (unsigned long long)events, events == 1 ? "" : "s",
          eg_log_path(T->log));
  for (size_t i = 0; i < T->n_dropped; i++)
    eg_logf(
        "delivery: subscription %s is no longer configured: %llu undelivered deliver%s to it "
        "dropped",
        T->dropped[i].name, (unsigned long long)T->dropped[i].n,
        T->dropped[i].n == 1 ? "y" : "ies");
  eg_logf("delivery: %llu deliver%s pending", (unsigned long long)pending,
          pending == 1 ? "y" : "ies");
  T->compacted_size = eg_log_size(T->log);
  *out = T;
  return EG_OK;
}

eg_status eg_topic_start(eg_topic *T, char *err, size_t errlen) {
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK || !(T->multi = curl_multi_init())) {
    snprintf(err, errlen, "libcurl cannot be initialised");
    return EG_ERR_NOMEM;
  }
  int rc = pthread_create(&T->thread, NULL, deliver_loop, T);
  if (rc) {
    snprintf(err, errlen, "cannot start the delivery thread: %s", strerror(rc));
    return EG_ERR_NOMEM;
  }
  T->started = true;
  return EG_OK;
}

eg_status eg_topic_publish(eg_topic *T, const eg_events *ev, char *err, size_t errlen) {
  eg_record *recs = calloc(ev->n, sizeof *recs);
  pevent **pe = calloc(ev->n, sizeof *pe);
  const char **names = calloc(T->n_subs ? T->n_subs : 1, sizeof *names);
  uint32_t *idx = calloc(T->n_subs ? T->n_subs : 1, sizeof *idx);
  eg_status st = EG_OK;
  if (!recs || !pe || !names || !idx) {
    snprintf(err, errlen, "out of memory");
    st = EG_ERR_NOMEM;
    goto out;
  }
  int64_t at = now_ms();
  pthread_mutex_lock(&T->mu);
  uint64_t first = T->next_seq;
  for (size_t i = 0; i < ev->n && st == EG_OK; i++) {
    const eg_event *e = &ev->ev[i];
    size_t ns = 0;
    for (size_t k = 0; k < T->n_subs; k++)
      if (matches(T->subs[k].cfg, e)) {
        idx[ns] = (uint32_t)k;
        names[ns++] = T->subs[k].cfg->name;
      }
    uint64_t seq = first + i;
    size_t len = 0;
    char *r = event_record(seq, at, names, ns, e->json, e->len, &len);
    recs[i].data = r;
    recs[i].len = len;
    if (ns) {
      char *dv = data_version_of(e->json, e->len);
      pe[i] = pevent_new(seq, at, e->json, e->len, e->id, dv, (uint32_t)ns);
      free(dv);
      if (pe[i]) {
        for (size_t k = 0; k < ns; k++) pe[i]->t[k].sub = idx[k];
        pe[i]->open = (uint32_t)ns;
      }
    }
    if (!r || (ns && !pe[i])) {
      snprintf(err, errlen, "out of memory");
      st = EG_ERR_NOMEM;
    }
  }
  if (st == EG_OK) st = eg_log_append(T->log, recs, ev->n, false, err, errlen);
  uint64_t my_end = 0, my_gen = 0;
  if (st == EG_OK) {
    T->next_seq = first + ev->n;
    for (size_t i = 0; i < ev->n; i++) {
      if (!pe[i]) continue;
      live_add(T, pe[i]);
      for (uint32_t k = 0; k < pe[i]->n_targets; k++) pe[i]->t[k].state = T_COMMITTING;
    }
    my_end = eg_log_size(T->log);
    my_gen = eg_log_generation(T->log);
  }
  pthread_mutex_unlock(&T->mu);
  if (st != EG_OK) goto out;
  /* durable before the 200: one fdatasync covers every append before it */
  pthread_mutex_lock(&T->sync_mu);
  bool durable = T->synced_gen == my_gen ? T->synced_size >= my_end : T->synced_gen > my_gen;
  if (!durable) {
    pthread_mutex_lock(&T->mu);
    uint64_t size = eg_log_size(T->log), gen = eg_log_generation(T->log);
    pthread_mutex_unlock(&T->mu);
    if (gen != my_gen) {
      durable = true; /* a compaction rewrote and synced the whole log */
    } else if ((st = eg_log_sync(T->log, err, errlen)) == EG_OK) {
      T->synced_size = size;
      T->synced_gen = gen;
    }
  }
  pthread_mutex_unlock(&T->sync_mu);
  /* queue them even when the sync failed: they are in the log and a restart
   * would deliver them anyway (at-least-once) */
  pthread_mutex_lock(&T->mu);
  for (size_t i = 0; i < ev->n; i++) {
    if (!pe[i]) continue;
    for (uint32_t k = 0; k < pe[i]->n_targets; k++) {
      target *t = &pe[i]->t[k];
      if (t->state != T_COMMITTING) continue;
      t->state = T_WAITING;
      if (ready_push(&T->subs[t->sub], t) < 0)
        eg_logf("out of memory: event seq %llu waits in the log until a restart",
                (unsigned long long)pe[i]->seq);
    }
    pe[i] = NULL;
  }
  pthread_mutex_unlock(&T->mu);
  if (T->multi) curl_multi_wakeup(T->multi);
out:
  for (size_t i = 0; recs && i < ev->n; i++) {
    free((void *)recs[i].data);
    if (pe) pevent_free(pe[i]);
  }
  free(recs);
  free(pe);
  free(names);
  free(idx);
  return st;
}

int eg_topic_validate(eg_topic *T, const char *subscription, const char *code) {
  pthread_mutex_lock(&T->mu);
  sub_rt *s = sub_by_name(T, subscription);
  int rc = !s ? -1 : s->validated ? 0 : !s->code[0] || strcmp(code, s->code) ? -2 : 0;
  if (rc == 0 && !s->validated) {
    eg_logf("validation: subscription=%s validated through its validationUrl", s->cfg->name);
    mark_validated(T, s);
  }
  pthread_mutex_unlock(&T->mu);
  if (rc == 0 && T->multi) curl_multi_wakeup(T->multi);
  return rc;
}

void eg_topic_close(eg_topic *T) {
  if (!T) return;
  if (T->started) {
    atomic_store(&T->stop, true);
    curl_multi_wakeup(T->multi);
    pthread_join(T->thread, NULL);
  }
  while (T->xfers) xfer_free(T, T->xfers);
  if (T->multi) curl_multi_cleanup(T->multi);
  for (pevent *e = T->live_head, *n; e; e = n) {
    n = e->next;
    pevent_free(e);
  }
  for (size_t i = 0; i < T->rep_n; i++) pevent_free(T->rep[i]);
  free(T->rep);
  for (size_t i = 0; i < T->n_subs; i++) {
    free(T->subs[i].ready);
    free(T->subs[i].heap);
  }
  free(T->subs);
  for (size_t i = 0; i < T->n_dropped; i++) free(T->dropped[i].name);
  free(T->dropped);
  free(T->replay_err);
  eg_log_close(T->log);
  pthread_mutex_destroy(&T->mu);
  pthread_mutex_destroy(&T->sync_mu);
  free(T->base_url);
  free(T);
}
