/* wagi_azure.h — Azure Blob Storage, Event Grid and Cosmos DB (SQL API)
 * clients for modules (wasm32-wasi), on wagi_http.h.
 *
 * Settings come from the module's environment, the names the seed's
 * modules use, so a modules.toml written for Azure works unchanged:
 *
 *   Blob:       AZURE_STORAGE_CONNECTION_STRING, or STORAGE_ACCOUNT +
 *               STORAGE_MASTER_KEY (+ STORAGE_ENDPOINT, e.g. Azurite's
 *               path-style "http://127.0.0.1:10000/devstoreaccount1")
 *   Event Grid: TOPIC_HOST_NAME (a bare host means https://HOST/api/events;
 *               a URL with a scheme is used as it is) + TOPIC_KEY (+
 *               TOPIC_SAS_TTL: send SAS tokens valid that many seconds
 *               instead of the key)
 *   Cosmos DB:  COSMOS_ACCOUNT or COSMOS_ENDPOINT, COSMOS_MASTER_KEY,
 *               COSMOS_DATABASE, COSMOS_COLLECTION
 *
 * Every call returns WAGI_AZ_OK or an error code and fills a wagi_az_error
 * with one line that says what failed (the service's status, error code and
 * message when it answered). Nothing aborts and nothing traps. Strings
 * passed in stay the caller's; what a call returns through an out pointer
 * is malloc'd and the caller's to free() (documented per call).
 *
 * The signing functions (wagi_az_blob_string_to_sign, wagi_az_cosmos_auth,
 * ...) are plain C without I/O: they build natively too, for tests. */
#ifndef WAGI_AZURE_H
#define WAGI_AZURE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  WAGI_AZ_OK = 0,
  WAGI_AZ_ERR_ARG = 1,      /* NULL or an unusable argument (e.g. an empty blob name) */
  WAGI_AZ_ERR_CONFIG = 2,   /* a setting is missing or malformed */
  WAGI_AZ_ERR_NOMEM = 3,    /* malloc failed */
  WAGI_AZ_ERR_HTTP = 4,     /* no answer: network error, host not in allowed_hosts, ... */
  WAGI_AZ_ERR_SERVICE = 5,  /* the service answered with an error status */
  WAGI_AZ_ERR_RESPONSE = 6, /* the answer could not be understood (bad JSON, too large) */
};

typedef struct {
  int code;              /* WAGI_AZ_* */
  int http_status;       /* the service's status for WAGI_AZ_ERR_SERVICE, else 0 */
  char service_code[64]; /* e.g. "ContainerNotFound", "NotFound", "" if none */
  char message[512];     /* one line: what was attempted and what went wrong */
} wagi_az_error;

/* Static name of a WAGI_AZ_* code ("service"); never freed. */
const char *wagi_az_strerror(int code);

/* 1 if err is the service's 404 (a missing blob, document, ...). */
int wagi_az_is_not_found(const wagi_az_error *err);

/* ---- Blob Storage --------------------------------------------------------------- */

typedef struct {
  char *account;
  uint8_t *key; /* decoded account key */
  size_t key_len;
  char *endpoint; /* "https://ACCOUNT.blob.core.windows.net" or a path-style base, no '/' at the end
                   */
} wagi_az_blob;

/* Reads the settings from the environment (see the top of this file).
 * On success *c must be released with wagi_az_blob_free. */
int wagi_az_blob_from_env(wagi_az_blob *c, wagi_az_error *err);
/* The same from explicit values (endpoint may be NULL: the public cloud). */
int wagi_az_blob_init(wagi_az_blob *c, const char *account, const char *key_base64,
                      const char *endpoint, wagi_az_error *err);
/* From a connection string ("AccountName=..;AccountKey=..;BlobEndpoint=..",
 * or "UseDevelopmentStorage=true" for Azurite's defaults). */
int wagi_az_blob_from_connection_string(wagi_az_blob *c, const char *conn, wagi_az_error *err);
void wagi_az_blob_free(wagi_az_blob *c);

/* Creates the container; one that exists already is success. */
int wagi_az_blob_create_container(const wagi_az_blob *c, const char *container, wagi_az_error *err);
/* Put Blob (a block blob) with the given content type (NULL:
 * application/octet-stream). */
int wagi_az_blob_put(const wagi_az_blob *c, const char *container, const char *blob,
                     const void *data, size_t len, const char *content_type, wagi_az_error *err);
/* Get Blob: on success *data (NUL-terminated, malloc'd) and *len; a blob over
 * max_bytes is WAGI_AZ_ERR_RESPONSE. content_type may be NULL; else it gets
 * a malloc'd copy of the blob's Content-Type (or NULL). */
int wagi_az_blob_get(const wagi_az_blob *c, const char *container, const char *blob,
                     size_t max_bytes, uint8_t **data, size_t *len, char **content_type,
                     wagi_az_error *err);

/* One header for the signing functions. */
typedef struct {
  const char *name;
  const char *value;
} wagi_az_header;

/* The SharedKey string-to-sign for a request (the caller's headers, any
 * case; path exactly as sent, still percent-encoded; query without '?', may
 * be NULL or ""). *out is malloc'd. */
int wagi_az_blob_string_to_sign(const char *account, const char *method, const char *path,
                                const char *query, const wagi_az_header *headers, size_t n,
                                char **out);
/* "SharedKey ACCOUNT:SIGNATURE" for the same inputs into out (cap >= 200
 * plus the account name). */
int wagi_az_blob_authorization(const char *account, const uint8_t *key, size_t key_len,
                               const char *method, const char *path, const char *query,
                               const wagi_az_header *headers, size_t n, char *out, size_t cap);

/* ---- Event Grid ------------------------------------------------------------------ */

typedef struct {
  char *url; /* the full publish URL, with ?api-version= */
  char *key;
  /* > 0: publish with an aeg-sas-token valid this many seconds, made from
   * the key, instead of sending the key itself (TOPIC_SAS_TTL) */
  int64_t sas_ttl_s;
} wagi_az_eventgrid;

int wagi_az_eventgrid_from_env(wagi_az_eventgrid *c, wagi_az_error *err);
/* host_or_url: "NAME.REGION.eventgrid.azure.net" or "http://127.0.0.1:3001"
 * (a URL without a path gets /api/events). */
int wagi_az_eventgrid_init(wagi_az_eventgrid *c, const char *host_or_url, const char *key,
                           wagi_az_error *err);
void wagi_az_eventgrid_free(wagi_az_eventgrid *c);

typedef struct {
  const char *id;           /* NULL: a new UUID */
  const char *event_type;   /* required */
  const char *subject;      /* required */
  const char *event_time;   /* NULL: now, RFC 3339 with milliseconds */
  const char *data_json;    /* required: the data as JSON text (checked) */
  const char *data_version; /* NULL: "1.0" */
} wagi_az_event;

/* Publishes the events in one batch (Event Grid schema, aeg-sas-key). */
int wagi_az_eventgrid_publish(const wagi_az_eventgrid *c, const wagi_az_event *events, size_t n,
                              wagi_az_error *err);
/* An aeg-sas-token for the topic endpoint_url (scheme, host, path; no
 * query) valid until expires_unix, signed with the base64 key, as the
 * @azure/eventgrid SDK's generateSharedAccessSignature makes it. *out is
 * malloc'd. */
int wagi_az_eventgrid_sas_token(const char *endpoint_url, int64_t expires_unix,
                                const char *key_base64, char **out, wagi_az_error *err);

/* The host part of the publish URL ("topic.westus2-1.eventgrid.azure.net",
 * "127.0.0.1:3001"), for messages, written into buf; returns buf. */
const char *wagi_az_eventgrid_host(const wagi_az_eventgrid *c, char *buf, size_t cap);

/* ---- Cosmos DB (SQL API) --------------------------------------------------------- */

typedef struct {
  char *endpoint; /* "https://ACCOUNT.documents.azure.com:443", no '/' at the end */
  uint8_t *key;
  size_t key_len;
  char *database, *collection;
} wagi_az_cosmos;

int wagi_az_cosmos_from_env(wagi_az_cosmos *c, wagi_az_error *err);
int wagi_az_cosmos_init(wagi_az_cosmos *c, const char *endpoint, const char *key_base64,
                        const char *database, const char *collection, wagi_az_error *err);
void wagi_az_cosmos_free(wagi_az_cosmos *c);

/* Creates the database and the collection (partition key /id) unless they
 * exist. */
int wagi_az_cosmos_ensure(const wagi_az_cosmos *c, wagi_az_error *err);
/* Creates (upsert = 0: 409 if the id exists) or upserts a document: a JSON
 * object with a string "id" (checked). */
int wagi_az_cosmos_put(const wagi_az_cosmos *c, const char *doc_json, size_t len, int upsert,
                       wagi_az_error *err);
/* Point read by id: *doc_json (malloc'd, NUL-terminated) on success; a
 * missing document is WAGI_AZ_ERR_SERVICE with http_status 404
 * (wagi_az_is_not_found). */
int wagi_az_cosmos_read(const wagi_az_cosmos *c, const char *id, char **doc_json, size_t *len,
                        wagi_az_error *err);

typedef struct {
  const char *name;       /* "@id" */
  const char *value_json; /* the value as JSON text: "\"x\"", "42", ... */
} wagi_az_param;

/* A parameterised query ("SELECT * FROM c WHERE c.id = @id"); the values
 * travel as parameters, never pasted into the text. All pages are fetched;
 * *docs_json is a malloc'd JSON array of the documents. */
int wagi_az_cosmos_query(const wagi_az_cosmos *c, const char *query, const wagi_az_param *params,
                         size_t n, char **docs_json, size_t *len, wagi_az_error *err);

/* The Authorization header value (URL-encoded "type=master&ver=1.0&sig=...")
 * for verb, resource type ("docs"), resource link ("dbs/d/colls/c") and the
 * x-ms-date value as sent, into out (cap >= 128). */
int wagi_az_cosmos_auth(const char *verb, const char *resource_type, const char *resource_link,
                        const char *date, const uint8_t *key, size_t key_len, char *out,
                        size_t cap);

#ifdef __cplusplus
}
#endif

#endif
