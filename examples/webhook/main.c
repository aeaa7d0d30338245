/* webhook — the seed's Event Grid subscriber, served at /eventgrid-webhook:
 * answers the subscription validation handshake, and for each BlobCreated
 * event reads the blob named in its data and upserts the Cosmos DB document
 * {"id": EVENT_ID, "value": BLOB_TEXT}. The event id as the document id makes
 * a redelivery harmless: one document per event. A blob that is not UTF-8
 * is stored base64 with "encoding": "base64". Any failure answers 5xx, so
 * that Event Grid delivers the event again later.
 *
 * Settings: the Blob ones of handler, plus COSMOS_ACCOUNT (or
 * COSMOS_ENDPOINT), COSMOS_MASTER_KEY, COSMOS_DATABASE, COSMOS_COLLECTION. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wagi_azure.h"
#include "wagi_codec.h"
#include "wagi_json.h"

#define MAX_BODY ((size_t)1 << 20) /* an Event Grid batch is at most 1 MiB */
#define MAX_BLOB ((size_t)64 << 20)
#define BLOB_CREATED "DeisLabs.EventGrid.Types.BlobCreated"
#define VALIDATION "Microsoft.EventGrid.SubscriptionValidationEvent"

static int answer(int status, const char *msg) {
  printf("Status: %d\nContent-Type: text/plain; charset=utf-8\n\n%s\n", status, msg);
  return 0;
}

static int utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t k = c < 0x80             ? 0
               : (c & 0xE0) == 0xC0 ? 1
               : (c & 0xF0) == 0xE0 ? 2
               : (c & 0xF8) == 0xF0 ? 3
                                    : 9;
    if (k == 9 || i + k >= n + (k ? 0 : 1)) return 0;
    if (k == 0) {
      i++;
      continue;
    }
    if (i + k >= n + 1) return 0;
    uint32_t cp = c & (0x3F >> k);
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return 0;
      cp = cp << 6 | (s[i + j] & 0x3F);
    }
    static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += k + 1;
  }
  return 1;
}

/* Reads the blob of one BlobCreated event and upserts its document. */
static int store(const wagi_az_blob *storage, const wagi_az_cosmos *db, const char *id,
                 const char *container, const char *blob, wagi_az_error *err) {
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = wagi_az_blob_get(storage, container, blob, MAX_BLOB, &data, &len, NULL, err);
  if (rc) return rc;
  wagi_jw w;
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "id");
  wagi_jw_string(&w, id);
  wagi_jw_key(&w, "value");
  if (utf8_valid(data, len)) {
    wagi_jw_stringn(&w, (const char *)data, len);
  } else {
    char *b64 = NULL;
    size_t bl;
    if (wagi_base64_encode_alloc(data, len, &b64, &bl)) {
      free(data);
      wagi_jw_free(&w);
      snprintf(err->message, sizeof err->message, "out of memory");
      return err->code = WAGI_AZ_ERR_NOMEM;
    }
    wagi_jw_stringn(&w, b64, bl);
    wagi_jw_key(&w, "encoding");
    wagi_jw_string(&w, "base64");
    free(b64);
  }
  wagi_jw_object_end(&w);
  free(data);
  char *doc = NULL;
  size_t dl;
  if (wagi_jw_finish(&w, &doc, &dl)) {
    wagi_jw_free(&w);
    snprintf(err->message, sizeof err->message, "event %.100s: the document cannot be written", id);
    return err->code = WAGI_AZ_ERR_ARG;
  }
  rc = wagi_az_cosmos_put(db, doc, dl, 1, err);
  if (wagi_az_is_not_found(err)) {
    /* no database or collection yet: create them once, then write */
    rc = wagi_az_cosmos_ensure(db, err);
    if (!rc) rc = wagi_az_cosmos_put(db, doc, dl, 1, err);
  }
  free(doc);
  return rc;
}

int main(void) {
  const char *method = getenv("REQUEST_METHOD");
  if (!method || strcmp(method, "POST")) return answer(405, "Event Grid delivers with POST.");
  static char body[MAX_BODY + 1];
  size_t len = fread(body, 1, sizeof body, stdin);
  if (len > MAX_BODY) return answer(413, "The batch is larger than 1 MiB.");
  wagi_json_doc *doc = NULL;
  wagi_json_error je;
  if (wagi_json_parse(body, len, NULL, &doc, &je)) {
    fprintf(stderr, "webhook: the body is not JSON: %s\n", je.msg);
    return answer(400, "The body is not JSON.");
  }
  const wagi_json *events = wagi_json_root(doc);
  if (wagi_json_typeof(events) != WAGI_JSON_ARRAY) {
    wagi_json_free(doc);
    return answer(400, "The body must be a JSON array of Event Grid events.");
  }
  /* the handshake: answer with the code */
  for (size_t i = 0; i < wagi_json_count(events); i++) {
    const wagi_json *e = wagi_json_at(events, i);
    const char *type = wagi_json_string(wagi_json_get(e, "eventType"), NULL);
    if (type && !strcmp(type, VALIDATION)) {
      const char *code =
          wagi_json_string(wagi_json_get(wagi_json_get(e, "data"), "validationCode"), NULL);
      if (!code) {
        wagi_json_free(doc);
        return answer(400, "The validation event has no data.validationCode.");
      }
      wagi_jw w;
      wagi_jw_init(&w, 0);
      wagi_jw_object_begin(&w);
      wagi_jw_key(&w, "validationResponse");
      wagi_jw_string(&w, code);
      wagi_jw_object_end(&w);
      char *out = NULL;
      size_t ol;
      int jr = wagi_jw_finish(&w, &out, &ol);
      wagi_json_free(doc);
      if (jr) {
        wagi_jw_free(&w);
        return answer(500, "Cannot write the validation response.");
      }
      fprintf(stderr, "webhook: subscription validated\n");
      printf("Content-Type: application/json\n\n%s\n", out);
      free(out);
      return 0;
    }
  }
  wagi_az_error err;
  wagi_az_blob storage;
  wagi_az_cosmos db;
  int rc = wagi_az_blob_from_env(&storage, &err);
  if (!rc && (rc = wagi_az_cosmos_from_env(&db, &err))) wagi_az_blob_free(&storage);
  if (rc) {
    fprintf(stderr, "webhook: %s\n", err.message);
    wagi_json_free(doc);
    return answer(500, err.message);
  }
  size_t stored = 0;
  for (size_t i = 0; !rc && i < wagi_json_count(events); i++) {
    const wagi_json *e = wagi_json_at(events, i);
    const char *type = wagi_json_string(wagi_json_get(e, "eventType"), NULL);
    const char *id = wagi_json_string(wagi_json_get(e, "id"), NULL);
    if (!type || !id) {
      fprintf(stderr, "webhook: event %zu has no eventType or id: skipped\n", i);
      continue;
    }
    if (strcmp(type, BLOB_CREATED)) {
      fprintf(stderr, "webhook: event %.100s: type %.100s is not handled: acknowledged\n", id,
              type);
      continue;
    }
    const wagi_json *data = wagi_json_get(e, "data");
    const char *container = wagi_json_string(wagi_json_get(data, "container"), NULL);
    const char *blob = wagi_json_string(wagi_json_get(data, "blob"), NULL);
    if (!container || !blob) {
      /* a malformed event will not get better by retrying */
      fprintf(stderr, "webhook: event %.100s has no data.container or data.blob: skipped\n", id);
      continue;
    }
    rc = store(&storage, &db, id, container, blob, &err);
    if (!rc) {
      stored++;
      fprintf(stderr, "webhook: event %.100s: %s/%.200s stored as document %.100s\n", id, container,
              blob, id);
    }
  }
  wagi_az_blob_free(&storage);
  wagi_az_cosmos_free(&db);
  wagi_json_free(doc);
  if (rc) {
    fprintf(stderr, "webhook: %s\n", err.message);
    /* 5xx: Event Grid retries (a 400 would dead-letter the event) */
    return answer(rc == WAGI_AZ_ERR_SERVICE && err.http_status == 404 ? 503 : 502, err.message);
  }
  printf("Content-Type: text/plain; charset=utf-8\n\n%zu document%s stored\n", stored,
         stored == 1 ? "" : "s");
  return 0;
}
