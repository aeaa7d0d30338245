/* handler — the seed's first module: POST /handler?container=C&blob=B with a
 * body writes the body to Blob Storage as C/B, then publishes one Event Grid
 * event saying so (its subscriber is the webhook module).
 *
 * Settings from the module's environment (guest/include/wagi_azure.h):
 * STORAGE_ACCOUNT + STORAGE_MASTER_KEY (+ STORAGE_ENDPOINT) or
 * AZURE_STORAGE_CONNECTION_STRING; TOPIC_HOST_NAME + TOPIC_KEY. Every failure
 * is an HTTP answer with a one-line reason: 400 for a bad request, 500 for a
 * missing setting, 502 when a service fails or cannot be reached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wagi_azure.h"
#include "wagi_codec.h"
#include "wagi_io.h"
#include "wagi_json.h"

/* Larger bodies are refused before anything is written. */
#define MAX_BODY ((size_t)64 << 20)

static int answer(int status, const char *fmt, const char *detail) {
  printf("Status: %d\nContent-Type: text/plain; charset=utf-8\n\n", status);
  printf(fmt, detail);
  printf("\n");
  return 0;
}

static int service_status(const wagi_az_error *e) {
  return e->code == WAGI_AZ_ERR_CONFIG ? 500 : e->code == WAGI_AZ_ERR_ARG ? 400 : 502;
}

int main(void) {
  const char *method = getenv("REQUEST_METHOD");
  if (!method || strcmp(method, "POST"))
    return answer(405, "%s", "Use POST /handler?container=CONTAINER&blob=BLOB with the data.");
  const char *q = getenv("QUERY_STRING");
  char *container = NULL, *blob = NULL;
  size_t n;
  if (wagi_query_get(q ? q : "", "container", &container, &n) ||
      wagi_query_get(q ? q : "", "blob", &blob, &n) || !*container || !*blob) {
    free(container);
    free(blob);
    return answer(400, "%s",
                  "The container and blob query parameters are required "
                  "(?container=CONTAINER&blob=BLOB).");
  }
  uint8_t *body = NULL;
  size_t len = 0;
  int br = wagi_io_read_body(MAX_BODY, &body, &len);
  if (br) {
    free(container);
    free(blob);
    return answer(br == WAGI_IO_ERR_TOO_BIG ? 413 : 500, "%s",
                  br == WAGI_IO_ERR_TOO_BIG ? "The body is larger than 64 MiB."
                  : br == WAGI_IO_ERR_NOMEM ? "Out of memory."
                                            : "The request body could not be read.");
  }
  wagi_az_error err;
  wagi_az_blob storage;
  wagi_az_eventgrid topic;
  int rc = wagi_az_blob_from_env(&storage, &err);
  if (rc) goto fail;
  rc = wagi_az_eventgrid_from_env(&topic, &err);
  if (rc) {
    wagi_az_blob_free(&storage);
    goto fail;
  }
  const char *ct = getenv("CONTENT_TYPE");
  if (!ct || !*ct) ct = "application/octet-stream";
  rc = wagi_az_blob_put(&storage, container, blob, body, len, ct, &err);
  if (wagi_az_is_not_found(&err)) {
    /* ContainerNotFound: create it once, then write */
    rc = wagi_az_blob_create_container(&storage, container, &err);
    if (!rc) rc = wagi_az_blob_put(&storage, container, blob, body, len, ct, &err);
  }
  if (!rc) {
    wagi_jw w;
    wagi_jw_init(&w, 0);
    wagi_jw_object_begin(&w);
    wagi_jw_key(&w, "container");
    wagi_jw_string(&w, container);
    wagi_jw_key(&w, "blob");
    wagi_jw_string(&w, blob);
    wagi_jw_object_end(&w);
    char *data = NULL;
    size_t dl;
    if (wagi_jw_finish(&w, &data, &dl)) {
      wagi_jw_free(&w);
      rc = -1;
      snprintf(err.message, sizeof err.message, "the blob name cannot be written as JSON");
      err.code = WAGI_AZ_ERR_ARG;
    } else {
      wagi_az_event ev = {.event_type = "DeisLabs.EventGrid.Types.BlobCreated",
                          .subject = "DeisLabs.EventGrid.Messages.BlobCreated",
                          .data_json = data};
      rc = wagi_az_eventgrid_publish(&topic, &ev, 1, &err);
      free(data);
    }
  }
  char host[200];
  wagi_az_eventgrid_host(&topic, host, sizeof host);
  wagi_az_blob_free(&storage);
  wagi_az_eventgrid_free(&topic);
  if (rc) goto fail;
  printf("Content-Type: text/plain; charset=utf-8\n\n");
  printf("Writing %zu bytes.\nSent message to host %s\n", len, host);
  free(container);
  free(blob);
  free(body);
  return 0;
fail:
  fprintf(stderr, "handler: %s\n", err.message);
  free(container);
  free(blob);
  free(body);
  return answer(service_status(&err), "%s", err.message);
}
