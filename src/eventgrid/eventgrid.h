/* eventgrid.h — `wagi eventgrid`: a durable local Event Grid topic.
 *
 * The topic accepts publishes on the Event Grid REST API
 * (POST /api/events?api-version=2018-01-01, aeg-sas-key auth, the Event Grid
 * event schema), appends every accepted event to an append-only log in
 * data_dir and fsyncs it before answering 200, and delivers each event to
 * every matching [[subscription]] webhook (validation handshake first,
 * retries on a schedule, dead-letter files), recording each outcome in the
 * same log so that a restart continues where the topic stopped. The log is
 * compacted once it holds mostly finished events.
 *
 * Files: config.c (TOPIC.toml), events.c (the schema), sas.c (SAS tokens),
 * log.c (the record log), topic.c (delivery state and the delivery thread,
 * on libcurl's multi interface), server.c (the HTTP side).
 *
 * Layering: uses base/ and the TOML parser of server/ (server/toml.h) only.
 */
#ifndef WAGI_EVENTGRID_EVENTGRID_H
#define WAGI_EVENTGRID_EVENTGRID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EG_DEFAULT_LISTEN "127.0.0.1:3001"
#define EG_DEFAULT_TOPIC                                                                           \
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"            \
  "Microsoft.EventGrid/topics/local"
#define EG_DEFAULT_MAX_ATTEMPTS 30
#define EG_DEFAULT_EVENT_TTL_S 86400
#define EG_DEFAULT_MAX_BATCH_BYTES ((uint64_t)1 << 20)
#define EG_DEFAULT_DELIVERY_TIMEOUT_MS 30000u
#define EG_DEFAULT_MAX_IN_FLIGHT 16u
#define EG_DEFAULT_LOG_COMPACT_BYTES ((uint64_t)16 << 20)
/* Largest max_batch_bytes a config may ask for: a batch is held in memory. */
#define EG_MAX_BATCH_LIMIT ((uint64_t)64 << 20)
/* Azure's retry schedule (seconds); the last delay repeats. */
#define EG_DEFAULT_RETRY_DELAYS                                                                    \
  { 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200 }

typedef enum {
  EG_OK = 0,
  EG_ERR_CONFIG, /* the config is unreadable or invalid (message: FILE:LINE:COL: ...) */
  EG_ERR_NOMEM,
  EG_ERR_IO,     /* data_dir or the log could not be created, read or written */
  EG_ERR_LISTEN, /* the listen address is invalid or could not be bound */
} eg_status;

/* One [[subscription]] table. */
typedef struct {
  char *name;         /* unique; letters, digits and '-', 3..64 characters */
  char *endpoint;     /* http:// or https:// URL */
  char **event_types; /* NULL when absent: every type matches */
  size_t n_event_types;
  char *subject_begins_with; /* NULL when absent */
} eg_subscription;

typedef struct {
  char *listen; /* "IP:PORT" / "[IPv6]:PORT" */
  char *key;    /* the aeg-sas-key */
  char *topic;  /* resource path put in delivered events */
  char *data_dir;
  uint32_t *retry_delays_ms; /* at least one */
  size_t n_retry_delays;
  uint32_t max_attempts;
  uint64_t event_ttl_s;
  uint64_t max_batch_bytes;
  uint32_t delivery_timeout_ms; /* an attempt without a full answer by then failed */
  uint32_t max_in_flight;       /* deliveries at once, per subscription */
  uint64_t log_compact_bytes;   /* compact the log once it is larger than this */
  eg_subscription *subs;
  size_t n_subs;
  char **warnings; /* "FILE:LINE:COL: warning: ..." (unknown keys) */
  size_t n_warnings;
} eg_config;

/* Reads and validates TOPIC.toml. On success *out is a new config (free with
 * eg_config_free); on failure *out is untouched and err holds one
 * "FILE:LINE:COL: what is wrong" line (or "FILE: ..." for an unreadable
 * file). Unknown keys are warnings (cfg->warnings), as in modules.toml. */
eg_status eg_config_load(const char *path, eg_config **out, char *err, size_t errlen);
void eg_config_free(eg_config *cfg);

/* ---- events ------------------------------------------------------------------- */

/* Checks a publish body: a non-empty JSON array of Event Grid schema events
 * (id, subject, eventType: non-empty strings; eventTime: an RFC 3339
 * date-time; data: present, any JSON; dataVersion: a string; topic, when
 * present, equal to `topic`; metadataVersion, when present, "1"). On
 * success returns 0 and stores in *events the events in their delivered
 * form (compact JSON with `topic` and `metadataVersion` filled in) and the
 * fields routing needs (caller frees with eg_events_free). On failure
 * returns -1 (-2: out of memory), *events untouched, `field` names the
 * offending property ("" for the body itself) and `msg` says what is
 * wrong. */
typedef struct {
  char *json; /* the delivered form, compact */
  size_t len;
  char *id, *subject, *event_type; /* copies of those properties */
} eg_event;

typedef struct {
  eg_event *ev;
  size_t n;
} eg_events;

int eg_events_parse(const char *body, size_t len, const char *topic, eg_events **events,
                    char *field, size_t fieldlen, char *msg, size_t msglen);
void eg_events_free(eg_events *ev);

/* 1 if s[0..len) is an RFC 3339 date-time (full-date "T" full-time with Z or
 * an offset; 't'/'z' and a space separator accepted as RFC 3339 allows). */
int eg_is_rfc3339(const char *s, size_t len);

/* ---- SAS tokens --------------------------------------------------------------- */

typedef enum {
  EG_SAS_OK = 0,
  EG_SAS_MALFORMED,     /* not "r=..&e=..&s=..", or an unreadable expiry */
  EG_SAS_BAD_SIGNATURE, /* not signed with this topic's key */
  EG_SAS_EXPIRED,
  EG_SAS_BAD_KEY, /* the topic's key is not base64: tokens cannot be checked */
} eg_sas_result;

/* Checks an aeg-sas-token "r=RESOURCE&e=EXPIRY&s=SIGNATURE" (values
 * URL-encoded; SIGNATURE = base64(HMAC-SHA256(base64-decode(key),
 * "r=RESOURCE&e=EXPIRY" as sent)); EXPIRY in UTC as "M/D/YYYY h:mm:ss AM",
 * as Azure's SDKs write it, or RFC 3339) against `key` at Unix time `now`. */
eg_sas_result eg_sas_check(const char *token, const char *key, long long now);

/* ---- the log ------------------------------------------------------------------ */

/* The append-only log data_dir/events.log: an 8-byte header "WAGIEGL2",
 * then records: payload length (u32, little-endian), CRC-32 (IEEE, of the
 * payload; u32 LE), the payload (a compact JSON object, see topic.c). Not
 * thread-safe: the topic serialises all calls. */
typedef struct eg_log eg_log;

typedef struct {
  const void *data;
  size_t len;
} eg_record;

/* Called for each whole record in order while the log is opened; returns 0
 * to go on, -1 to stop opening (the callback reports why). */
typedef int (*eg_log_replay_fn)(void *ctx, const uint8_t *payload, size_t len);

/* Opens (creating data_dir and the log if needed) and replays the log
 * through `fn`: a torn or corrupt tail is cut off (the file is truncated to
 * the last whole record) and reported in *dropped_bytes. */
eg_status eg_log_open(const char *data_dir, eg_log_replay_fn fn, void *ctx, eg_log **out,
                      uint64_t *dropped_bytes, char *err, size_t errlen);
/* Appends the records with one write(); with `sync`, fdatasync before
 * returning (a publish is acknowledged only then). On failure the log is cut
 * back to its size before the call. */
eg_status eg_log_append(eg_log *log, const eg_record *recs, size_t n, bool sync, char *err,
                        size_t errlen);
/* Replaces the whole log with `recs` (written to a temporary file, synced,
 * then renamed over the log and the directory synced). */
eg_status eg_log_rewrite(eg_log *log, const eg_record *recs, size_t n, char *err, size_t errlen);
/* fdatasync of what was appended so far. */
eg_status eg_log_sync(eg_log *log, char *err, size_t errlen);
uint64_t eg_log_size(const eg_log *log);
/* Counts eg_log_rewrite calls: offsets from before one mean nothing after
 * it (and everything written before it is durable). */
uint64_t eg_log_generation(const eg_log *log);
const char *eg_log_path(const eg_log *log);
void eg_log_close(eg_log *log);

uint32_t eg_crc32(const void *data, size_t len);

/* ---- the topic: delivery state and the delivery thread ------------------------ */

typedef struct eg_topic eg_topic;

/* Opens the log and rebuilds from it what is still owed to each
 * subscription; `base_url` ("http://IP:PORT") is where the topic listens,
 * for the validationUrl. Logs what it recovered. */
eg_status eg_topic_open(const eg_config *cfg, const char *base_url, eg_topic **out, char *err,
                        size_t errlen);
/* Starts the delivery thread. */
eg_status eg_topic_start(eg_topic *t, char *err, size_t errlen);
/* Logs the events durably (fdatasync, shared by publishers that arrive
 * while another one syncs: group commit) and queues their deliveries. On
 * failure err says why (events written but not made durable are still
 * delivered: at-least-once). Thread-safe. */
eg_status eg_topic_publish(eg_topic *t, const eg_events *ev, char *err, size_t errlen);
/* The manual validation handshake (GET validationUrl): 0 validated, -1 no
 * such subscription, -2 wrong code. Thread-safe. */
int eg_topic_validate(eg_topic *t, const char *subscription, const char *code);
/* Stops the delivery thread (deliveries in flight are abandoned and will be
 * retried after a restart) and frees everything. */
void eg_topic_close(eg_topic *t);

/* A log line on stderr: "TIME eventgrid: ...". */
void eg_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the server --------------------------------------------------------------- */

/* Opens the log, listens on cfg->listen (or listen_override when not NULL),
 * prints "Ready: ..." and serves until SIGINT or SIGTERM. Returns 0 after a
 * clean shutdown, 1 after a startup error (printed on stderr). */
int eg_serve(const eg_config *cfg, const char *listen_override);

#endif
