/* sdk_probe — drives the guest SDK's Cosmos DB and Blob calls one at a time
 * for tests/azure/test_sdk.py (run with `wagi run` against the local
 * stand-ins). Settings come from the environment, as in a WAGI module.
 *
 *   sdk_probe cosmos-ensure | cosmos-put ID VALUE | cosmos-create ID VALUE
 *           | cosmos-read ID | cosmos-query FIELD VALUE
 *           | blob-get CONTAINER BLOB | blob-put CONTAINER BLOB DATA
 *           | publish TYPE SUBJECT DATA_JSON
 * Prints the result on stdout; on failure prints
 * "error CODE STATUS SERVICE_CODE: MESSAGE" and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wagi_azure.h"
#include "wagi_json.h"

static int fail(const wagi_az_error *e) {
  printf("error %s %d %s: %s\n", wagi_az_strerror(e->code), e->http_status,
         e->service_code[0] ? e->service_code : "-", e->message);
  return 1;
}

static char *doc(const char *id, const char *value) {
  wagi_jw w;
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "id");
  wagi_jw_string(&w, id);
  wagi_jw_key(&w, "value");
  wagi_jw_string(&w, value);
  wagi_jw_object_end(&w);
  char *out = NULL;
  size_t n;
  if (wagi_jw_finish(&w, &out, &n)) return NULL;
  return out;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *op = argv[1];
  wagi_az_error err;
  if (!strncmp(op, "cosmos-", 7)) {
    wagi_az_cosmos c;
    if (wagi_az_cosmos_from_env(&c, &err)) return fail(&err);
    int rc = 0;
    if (!strcmp(op, "cosmos-ensure")) {
      rc = wagi_az_cosmos_ensure(&c, &err);
      if (!rc) printf("ok\n");
    } else if ((!strcmp(op, "cosmos-put") || !strcmp(op, "cosmos-create")) && argc == 4) {
      char *d = doc(argv[2], argv[3]);
      rc = d ? wagi_az_cosmos_put(&c, d, strlen(d), op[7] == 'p', &err) : 2;
      if (!rc) printf("ok\n");
      free(d);
    } else if (!strcmp(op, "cosmos-put-raw") && argc == 3) {
      rc = wagi_az_cosmos_put(&c, argv[2], strlen(argv[2]), 1, &err);
      if (!rc) printf("ok\n");
    } else if (!strcmp(op, "cosmos-read") && argc == 3) {
      char *out = NULL;
      size_t n;
      rc = wagi_az_cosmos_read(&c, argv[2], &out, &n, &err);
      if (!rc) printf("%s\n", out);
      free(out);
    } else if (!strcmp(op, "cosmos-query") && argc == 4) {
      char *q = NULL;
      size_t n;
      char *v = NULL;
      wagi_jw w;
      wagi_jw_init(&w, 0);
      wagi_jw_string(&w, argv[3]);
      if (wagi_jw_finish(&w, &v, &n)) return 2;
      char text[200];
      snprintf(text, sizeof text, "SELECT * FROM c WHERE c[\"%s\"] = @v", argv[2]);
      wagi_az_param p = {"@v", v};
      rc = wagi_az_cosmos_query(&c, text, &p, 1, &q, &n, &err);
      if (!rc) printf("%s\n", q);
      free(q);
      free(v);
    } else {
      return 2;
    }
    wagi_az_cosmos_free(&c);
    return rc ? fail(&err) : 0;
  }
  if (!strncmp(op, "blob-", 5)) {
    wagi_az_blob b;
    if (wagi_az_blob_from_env(&b, &err)) return fail(&err);
    int rc;
    if (!strcmp(op, "blob-get") && argc == 4) {
      uint8_t *data = NULL;
      size_t n;
      char *ct = NULL;
      rc = wagi_az_blob_get(&b, argv[2], argv[3], 1 << 20, &data, &n, &ct, &err);
      if (!rc) printf("%s %s\n", ct ? ct : "-", (char *)data);
      free(data);
      free(ct);
    } else if (!strcmp(op, "blob-put") && argc == 5) {
      rc = wagi_az_blob_put(&b, argv[2], argv[3], argv[4], strlen(argv[4]), "text/plain", &err);
      if (!rc) printf("ok\n");
    } else {
      return 2;
    }
    wagi_az_blob_free(&b);
    return rc ? fail(&err) : 0;
  }
  if (!strcmp(op, "publish") && argc == 5) {
    wagi_az_eventgrid t;
    if (wagi_az_eventgrid_from_env(&t, &err)) return fail(&err);
    wagi_az_event e = {.event_type = argv[2], .subject = argv[3], .data_json = argv[4]};
    int rc = wagi_az_eventgrid_publish(&t, &e, 1, &err);
    wagi_az_eventgrid_free(&t);
    if (rc) return fail(&err);
    printf("ok\n");
    return 0;
  }
  return 2;
}
