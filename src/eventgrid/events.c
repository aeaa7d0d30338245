/* events.c — the Event Grid event schema, checked on publish (eventgrid.h).
 *
 * A publish body is a JSON array of objects with id, subject, eventType,
 * eventTime, data and dataVersion; topic and metadataVersion are the
 * service's to fill in, so a publisher may only repeat them correctly. Extra
 * properties are kept as they are. */
#include "eventgrid.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/utf8.h"

static int fail(char *field, size_t fieldlen, const char *name, char *msg, size_t msglen,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(char *field, size_t fieldlen, const char *name, char *msg, size_t msglen,
                const char *fmt, ...) {
  if (fieldlen) snprintf(field, fieldlen, "%s", name);
  if (msglen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static int digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

static int num(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

int eg_is_rfc3339(const char *s, size_t len) {
  /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
  if (len < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
      !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2) ||
      s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
    return 0;
  int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
  int h = num(s + 11, 2), mi = num(s + 14, 2), se = num(s + 17, 2);
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1) return 0;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] + (mo == 2 && leap)) return 0;
  if (h > 23 || mi > 59 || se > 60) return 0; /* 60: a leap second */
  size_t i = 19;
  if (i < len && s[i] == '.') {
    size_t j = ++i;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    if (i == j) return 0;
  }
  if (i < len && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == len;
  if (i < len && (s[i] == '+' || s[i] == '-')) {
    if (len - i != 6 || !digits(s + i + 1, 2) || s[i + 3] != ':' || !digits(s + i + 4, 2)) return 0;
    return num(s + i + 1, 2) <= 23 && num(s + i + 4, 2) <= 59;
  }
  return 0;
}

/* A required string property; `nonempty` refuses "". */
static int req_string(const cJSON *ev, size_t i, const char *name, bool nonempty, char *field,
                      size_t fieldlen, char *msg, size_t msglen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, name);
  if (!v || cJSON_IsNull(v))
    return fail(field, fieldlen, name, msg, msglen,
                "Required property '%s' was not set (event %zu).", name, i);
  if (!cJSON_IsString(v))
    return fail(field, fieldlen, name, msg, msglen, "Property '%s' must be a string (event %zu).",
                name, i);
  if (nonempty && !v->valuestring[0])
    return fail(field, fieldlen, name, msg, msglen, "Property '%s' must not be empty (event %zu).",
                name, i);
  return 0;
}

static int check_event(const cJSON *ev, size_t i, const char *topic, char *field, size_t fieldlen,
                       char *msg, size_t msglen) {
  if (!cJSON_IsObject(ev))
    return fail(field, fieldlen, "", msg, msglen, "Event %zu is not a JSON object.", i);
  if (req_string(ev, i, "id", true, field, fieldlen, msg, msglen) < 0 ||
      req_string(ev, i, "subject", true, field, fieldlen, msg, msglen) < 0 ||
      req_string(ev, i, "eventType", true, field, fieldlen, msg, msglen) < 0 ||
      req_string(ev, i, "eventTime", true, field, fieldlen, msg, msglen) < 0)
    return -1;
  const char *t = cJSON_GetObjectItemCaseSensitive(ev, "eventTime")->valuestring;
  if (!eg_is_rfc3339(t, strlen(t)))
    return fail(field, fieldlen, "eventTime", msg, msglen,
                "Property 'eventTime' must be an RFC 3339 date-time such as "
                "2024-01-02T03:04:05.678Z (event %zu).",
                i);
  if (!cJSON_GetObjectItemCaseSensitive(ev, "data"))
    return fail(field, fieldlen, "data", msg, msglen,
                "Required property 'data' was not set (event %zu).", i);
  const cJSON *dv = cJSON_GetObjectItemCaseSensitive(ev, "dataVersion");
  if (!dv)
    return fail(field, fieldlen, "dataVersion", msg, msglen,
                "Required property 'dataVersion' was not set (event %zu).", i);
  if (!cJSON_IsString(dv))
    return fail(field, fieldlen, "dataVersion", msg, msglen,
                "Property 'dataVersion' must be a string (event %zu).", i);
  const cJSON *tp = cJSON_GetObjectItemCaseSensitive(ev, "topic");
  if (tp && !cJSON_IsNull(tp)) {
    /* Azure resource paths compare case-insensitively. */
    if (!cJSON_IsString(tp) || strcasecmp(tp->valuestring, topic))
      return fail(field, fieldlen, "topic", msg, msglen,
                  "Property 'topic' must be left out or be this topic's resource path '%.300s' "
                  "(event %zu).",
                  topic, i);
  }
  const cJSON *mv = cJSON_GetObjectItemCaseSensitive(ev, "metadataVersion");
  if (mv && !cJSON_IsNull(mv) && !(cJSON_IsString(mv) && !strcmp(mv->valuestring, "1")))
    return fail(field, fieldlen, "metadataVersion", msg, msglen,
                "Property 'metadataVersion' must be left out or be \"1\" (event %zu).", i);
  return 0;
}

void eg_events_free(eg_events *ev) {
  if (!ev) return;
  for (size_t i = 0; i < ev->n; i++) {
    free(ev->ev[i].json);
    free(ev->ev[i].id);
    free(ev->ev[i].subject);
    free(ev->ev[i].event_type);
  }
  free(ev->ev);
  free(ev);
}

/* Sets `name` to the string `value`, replacing what the publisher sent. */
static int set_string(cJSON *ev, const char *name, const char *value) {
  cJSON *s = cJSON_CreateString(value);
  if (!s) return -1;
  if (cJSON_GetObjectItemCaseSensitive(ev, name))
    return cJSON_ReplaceItemInObjectCaseSensitive(ev, name, s) ? 0 : (cJSON_Delete(s), -1);
  return cJSON_AddItemToObject(ev, name, s) ? 0 : (cJSON_Delete(s), -1);
}

static char *dup_prop(const cJSON *ev, const char *name) {
  return strdup(cJSON_GetObjectItemCaseSensitive(ev, name)->valuestring);
}

int eg_events_parse(const char *body, size_t len, const char *topic, eg_events **events,
                    char *field, size_t fieldlen, char *msg, size_t msglen) {
  size_t bad;
  if (!base_utf8_valid((const uint8_t *)body, len, &bad))
    return fail(field, fieldlen, "", msg, msglen,
                "The request body is not valid UTF-8 (at byte %zu).", bad);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (!root) {
    size_t at = end ? (size_t)(end - body) : 0;
    return fail(field, fieldlen, "", msg, msglen,
                "The request body is not valid JSON (near byte %zu).", at);
  }
  while (end && end < body + len && strchr(" \t\r\n", *end) && *end) end++;
  if (end && end < body + len) {
    cJSON_Delete(root);
    return fail(field, fieldlen, "", msg, msglen,
                "The request body has text after the JSON value (at byte %zu).",
                (size_t)(end - body));
  }
  if (!cJSON_IsArray(root)) {
    cJSON_Delete(root);
    return fail(field, fieldlen, "", msg, msglen,
                "The request body must be a JSON array of events.");
  }
  size_t n = (size_t)cJSON_GetArraySize(root);
  if (n == 0) {
    cJSON_Delete(root);
    return fail(field, fieldlen, "", msg, msglen, "The request body has no events.");
  }
  size_t i = 0;
  for (const cJSON *ev = root->child; ev; ev = ev->next, i++)
    if (check_event(ev, i, topic, field, fieldlen, msg, msglen) < 0) {
      cJSON_Delete(root);
      return -1;
    }
  eg_events *out = calloc(1, sizeof *out);
  if (out) out->ev = calloc(n, sizeof *out->ev);
  if (!out || !out->ev) goto nomem;
  i = 0;
  for (cJSON *ev = root->child; ev; ev = ev->next, i++) {
    /* the delivered form: the service states its topic and metadata version */
    if (set_string(ev, "topic", topic) < 0 || set_string(ev, "metadataVersion", "1") < 0)
      goto nomem;
    eg_event *e = &out->ev[i];
    out->n = i + 1;
    e->json = cJSON_PrintUnformatted(ev);
    e->id = dup_prop(ev, "id");
    e->subject = dup_prop(ev, "subject");
    e->event_type = dup_prop(ev, "eventType");
    if (!e->json || !e->id || !e->subject || !e->event_type) goto nomem;
    e->len = strlen(e->json);
  }
  cJSON_Delete(root);
  *events = out;
  return 0;
nomem:
  eg_events_free(out);
  cJSON_Delete(root);
  fail(field, fieldlen, "", msg, msglen, "Out of memory.");
  return -2;
}
