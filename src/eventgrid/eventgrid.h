/* eventgrid.h — `wagi eventgrid`: a durable local Event Grid topic.
 *
 * The topic accepts publishes on the Event Grid REST API
 * (POST /api/events?api-version=2018-01-01, aeg-sas-key auth, the Event Grid
 * event schema), appends every accepted event to an append-only log in
 * data_dir and fsyncs it before answering 200, and reads the log back on
 * startup. Delivery to the [[subscription]] endpoints (validation handshake,
 * retries, dead-lettering) and log compaction come in the next slice: the
 * subscriptions are parsed and validated already.
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
 * success returns 0 and stores in *events a new NUL-separated list of the
 * events re-serialized compactly (caller frees with eg_events_free). On
 * failure returns -1 (-2: out of memory), *events untouched, `field` names the offending
 * property ("" for the body itself) and `msg` says what is wrong. */
typedef struct {
  char **json; /* compact JSON of each event */
  size_t *len;
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

/* The append-only log data_dir/events.log: an 8-byte header "WAGIEGL1",
 * then one record per event: payload length (u32, little-endian), CRC-32
 * (IEEE, of the payload; u32 LE), the payload (the event's compact JSON). */
typedef struct eg_log eg_log;

/* Opens (creating data_dir and the log if needed) and reads the log back: a
 * torn or corrupt tail is cut off (the file is truncated to the last whole
 * record) and reported in *dropped_bytes. *recovered counts the events. */
eg_status eg_log_open(const char *data_dir, eg_log **out, uint64_t *recovered,
                      uint64_t *dropped_bytes, char *err, size_t errlen);
/* Appends every event of `ev` with one write and fdatasync before
 * returning. Thread-safe. */
eg_status eg_log_append(eg_log *log, const eg_events *ev, char *err, size_t errlen);
void eg_log_close(eg_log *log);

uint32_t eg_crc32(const void *data, size_t len);

/* ---- the server --------------------------------------------------------------- */

/* Opens the log, listens on cfg->listen (or listen_override when not NULL),
 * prints "Ready: ..." and serves until SIGINT or SIGTERM. Returns 0 after a
 * clean shutdown, 1 after a startup error (printed on stderr). */
int eg_serve(const eg_config *cfg, const char *listen_override);

#endif
