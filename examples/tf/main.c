/* tf — image classification with MobileNetV2 inside the module, cached in
 * Cosmos DB by the image's SHA-256 (the seed's third example), served at
 * /infer.
 *
 * POST an image (JPEG, PNG, BMP or GIF). The upper-case hex SHA-256 of the
 * body is the Cosmos DB document id: a document with that id answers at
 * once with its "value"; otherwise the image is decoded (stb_image), made
 * RGB, resized to the model's input (wagi_tflite_resize: antialiased
 * bilinear), classified (wagi_tflite), and the answer
 *
 *   The image represents a LABEL, with P% accuracy
 *
 * is sent and upserted as {"id": DIGEST, "value": ANSWER}. P is the top
 * class's probability times 100, rounded to two decimals with trailing
 * zeros dropped (93.36, 50, 12.5). The header X-Cache says hit or miss and
 * stderr gets one line per request saying which, with the time each step
 * took, so that a cached answer is visibly one that ran no inference.
 *
 * Settings (the module's environment):
 *   TF_MODEL   the .tflite file (default /mobilenet_v2_1.0_224_quant.tflite)
 *   TF_LABELS  one label a line, line i for output i (default
 *              /imagenet_labels_1001.txt)
 *   COSMOS_ENDPOINT or COSMOS_ACCOUNT, COSMOS_MASTER_KEY, COSMOS_DATABASE,
 *   COSMOS_COLLECTION: the cache (guest/README.md §wagi_azure). Without them,
 *              or with Cosmos DB unreachable, every request is classified and
 *              the cache error goes to stderr: the cache never fails a
 *              request.
 * The model and labels come from a volume (volumes = { "/" = "DIR" }).
 *
 * Answers: 200 text/plain; 400 for an empty body, one over 20 MiB, one that
 * is not an image stb_image decodes, or one over 4096 pixels wide or high;
 * 405 for a method other than POST; 500 naming the model or labels file
 * when it is missing or unusable. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* stb_image, compiled into the module: memory input only (no stdio), the
 * four formats the example promises, no thread-local error string (WASI
 * modules are single-threaded). */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_NO_THREAD_LOCALS
#include <stb/stb_image.h>

#include "wagi_azure.h"
#include "wagi_codec.h"
#include "wagi_crypto.h"
#include "wagi_io.h"
#include "wagi_json.h"
#include "wagi_tflite.h"

#define MAX_BODY ((size_t)20 << 20)
#define MAX_SIDE 4096
#define MAX_MODEL ((size_t)256 << 20)
#define MAX_LABELS ((size_t)16 << 20)
#define DEFAULT_MODEL "/mobilenet_v2_1.0_224_quant.tflite"
#define DEFAULT_LABELS "/imagenet_labels_1001.txt"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int answer(int status, const char *msg) {
  printf("Status: %d\nContent-Type: text/plain; charset=utf-8\n\n%s\n", status, msg);
  return 0;
}

static const char *setting(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

/* Line i of the labels text (CR LF or LF), copied into out; 0 if there is
 * no such line. *lines gets the number of lines. */
static int label_at(const char *text, size_t len, size_t want, char *out, size_t cap,
                    size_t *lines) {
  size_t line = 0, start = 0, found = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] != '\n') continue;
    if (i == len && start == len) break; /* no empty last line after the final LF */
    if (line == want) {
      size_t e = i;
      if (e > start && text[e - 1] == '\r') e--;
      size_t n = e - start < cap - 1 ? e - start : cap - 1;
      memcpy(out, text + start, n);
      out[n] = 0;
      found = 1;
    }
    line++;
    start = i + 1;
  }
  *lines = line;
  return (int)found;
}

/* "93.36", "50", "12.5": p * 100 rounded to hundredths, zeros dropped. */
static void format_percent(double p, char *out, size_t cap) {
  long long h = llround(p * 10000.0);
  if (h < 0) h = 0;
  if (h % 100 == 0) snprintf(out, cap, "%lld", h / 100);
  else if (h % 10 == 0) snprintf(out, cap, "%lld.%lld", h / 100, h % 100 / 10);
  else snprintf(out, cap, "%lld.%02lld", h / 100, h % 100);
}

typedef struct {
  int enabled;
  int unreachable; /* the read got no answer: the write is not tried (no second timeout) */
  wagi_az_cosmos db;
} cache;

/* The cached answer for digest, or NULL (a miss, or an error logged). */
static char *cache_get(cache *c, const char *digest) {
  if (!c->enabled) return NULL;
  wagi_az_error err;
  char *doc = NULL;
  size_t len = 0;
  if (wagi_az_cosmos_read(&c->db, digest, &doc, &len, &err)) {
    if (!wagi_az_is_not_found(&err))
      fprintf(stderr, "tf: %s: cache read failed: %s\n", digest, err.message);
    c->unreachable = err.code == WAGI_AZ_ERR_HTTP;
    return NULL;
  }
  wagi_json_doc *j = NULL;
  wagi_json_error je;
  char *value = NULL;
  if (wagi_json_parse(doc, len, NULL, &j, &je)) {
    fprintf(stderr, "tf: %s: the cached document is not JSON (%s): classifying again\n", digest,
            je.msg);
  } else {
    size_t n;
    const char *v = wagi_json_string(wagi_json_get(wagi_json_root(j), "value"), &n);
    if (v && !memchr(v, 0, n) && (value = malloc(n + 1))) {
      memcpy(value, v, n);
      value[n] = 0;
    } else if (!value) {
      fprintf(stderr,
              "tf: %s: the cached document has no usable string \"value\": classifying again\n",
              digest);
    }
    wagi_json_free(j);
  }
  free(doc);
  return value;
}

static void cache_put(cache *c, const char *digest, const char *text) {
  if (!c->enabled) return;
  if (c->unreachable) {
    fprintf(stderr, "tf: %s: cache write skipped: Cosmos DB did not answer the read\n", digest);
    return;
  }
  wagi_jw w;
  wagi_jw_init(&w, 0);
  wagi_jw_object_begin(&w);
  wagi_jw_key(&w, "id");
  wagi_jw_string(&w, digest);
  wagi_jw_key(&w, "value");
  wagi_jw_string(&w, text);
  wagi_jw_object_end(&w);
  char *doc = NULL;
  size_t len = 0;
  if (wagi_jw_finish(&w, &doc, &len)) {
    wagi_jw_free(&w);
    fprintf(stderr, "tf: %s: cache write failed: the document cannot be written\n", digest);
    return;
  }
  wagi_az_error err;
  int rc = wagi_az_cosmos_put(&c->db, doc, len, 1, &err);
  if (rc && wagi_az_is_not_found(&err)) {
    /* no database or collection yet: create them once, then write */
    rc = wagi_az_cosmos_ensure(&c->db, &err);
    if (!rc) rc = wagi_az_cosmos_put(&c->db, doc, len, 1, &err);
  }
  if (rc) fprintf(stderr, "tf: %s: cache write failed: %s\n", digest, err.message);
  free(doc);
}

/* What a classification took, for the log line and Server-Timing. */
typedef struct {
  double decode, resize, model_read, model_load, labels, invoke;
} timings;

/* Classifies the image: 0 and the answer in text, or an HTTP status and
 * the reason in text. */
static int classify(const uint8_t *img, size_t len, char *text, size_t cap, timings *t) {
  double t0 = now_ms();
  int w = 0, h = 0, ch = 0;
  if (!stbi_info_from_memory(img, (int)len, &w, &h, &ch)) {
    snprintf(text, cap,
             "The body is not an image this service decodes (JPEG, PNG, BMP or GIF): %s.",
             stbi_failure_reason());
    return 400;
  }
  if (w > MAX_SIDE || h > MAX_SIDE) {
    snprintf(text, cap, "The image is %dx%d pixels; at most %dx%d is accepted.", w, h, MAX_SIDE,
             MAX_SIDE);
    return 400;
  }
  uint8_t *rgb = stbi_load_from_memory(img, (int)len, &w, &h, &ch, 3);
  if (!rgb) {
    snprintf(text, cap, "The image cannot be decoded: %s.", stbi_failure_reason());
    return 400;
  }
  double t1 = now_ms();
  t->decode = t1 - t0;

  const char *model_path = setting("TF_MODEL", DEFAULT_MODEL);
  const char *labels_path = setting("TF_LABELS", DEFAULT_LABELS);
  char err[WAGI_TFLITE_ERRLEN];
  size_t model_len = 0;
  uint8_t *model_bytes = NULL;
  if (wagi_io_read_file(model_path, MAX_MODEL, &model_bytes, &model_len, err, sizeof err)) {
    stbi_image_free(rgb);
    snprintf(text, cap, "The model %s cannot be read: %s.", model_path, err);
    return 500;
  }
  double t2 = now_ms();
  t->model_read = t2 - t1;
  wagi_tflite_model *m = NULL;
  int rc = wagi_tflite_load(model_bytes, model_len, &m, err, sizeof err);
  free(model_bytes);
  if (rc != WAGI_TFLITE_OK) {
    stbi_image_free(rgb);
    snprintf(text, cap, "The model %s is not usable: %s.", model_path, err);
    return 500;
  }
  double t3 = now_ms();
  t->model_load = t3 - t2;
  wagi_tflite_tensor_info in, out;
  wagi_tflite_input_info(m, &in);
  wagi_tflite_output_info(m, &out);
  if (in.ndims != 4 || in.dims[0] != 1 || in.dims[3] != 3 || out.bytes < 1) {
    stbi_image_free(rgb);
    wagi_tflite_free(m);
    snprintf(text, cap,
             "The model %s is not usable: its input is not one RGB image ([1,H,W,3]) or it has no "
             "output.",
             model_path);
    return 500;
  }
  /* the labels before the model runs: a bad file fails fast */
  size_t labels_len = 0, lines = 0;
  char label[512];
  uint8_t *labels = NULL;
  if (!wagi_io_read_file(labels_path, MAX_LABELS, &labels, &labels_len, err, sizeof err))
    label_at((const char *)labels, labels_len, 0, label, sizeof label, &lines);
  if (!labels || lines != out.bytes) {
    if (labels) {
      snprintf(text, cap, "The labels file %s has %zu lines; the model %s has %zu classes.",
               labels_path, lines, model_path, out.bytes);
    } else {
      snprintf(text, cap, "The labels file %s cannot be read: %s.", labels_path, err);
    }
    free(labels);
    stbi_image_free(rgb);
    wagi_tflite_free(m);
    return 500;
  }
  double t4 = now_ms();
  t->labels = t4 - t3;
  uint8_t *x = malloc(in.bytes), *y = malloc(out.bytes);
  if (!x || !y) {
    free(labels);
    stbi_image_free(rgb);
    wagi_tflite_free(m);
    free(x);
    free(y);
    snprintf(text, cap, "Out of memory.");
    return 500;
  }
  rc = wagi_tflite_resize(rgb, w, h, 3, x, in.dims[2], in.dims[1]);
  stbi_image_free(rgb);
  double t5 = now_ms();
  t->resize = t5 - t4;
  if (rc == WAGI_TFLITE_OK) rc = wagi_tflite_invoke(m, x, in.bytes, y, out.bytes);
  wagi_tflite_free(m);
  free(x);
  t->invoke = now_ms() - t5;
  if (rc != WAGI_TFLITE_OK) {
    free(labels);
    free(y);
    snprintf(text, cap, "The model %s failed on this image: %s.", model_path,
             wagi_tflite_strerror(rc));
    return 500;
  }
  size_t best = 0;
  for (size_t i = 1; i < out.bytes; i++)
    if (y[i] > y[best]) best = i;
  double p = out.scale * ((int32_t)y[best] - out.zero_point);
  free(y);
  label_at((const char *)labels, labels_len, best, label, sizeof label, &lines);
  free(labels);
  char pct[32];
  format_percent(p, pct, sizeof pct);
  snprintf(text, cap, "The image represents a %s, with %s%% accuracy", label, pct);
  return 0;
}

int main(void) {
  double start = now_ms();
  const char *method = getenv("REQUEST_METHOD");
  if (!method || strcmp(method, "POST"))
    return answer(405, "POST an image (JPEG, PNG, BMP or GIF) to classify it.");
  uint8_t *body = NULL;
  size_t len = 0;
  int rc = wagi_io_read_body(MAX_BODY, &body, &len);
  if (rc == WAGI_IO_ERR_TOO_BIG) return answer(400, "The image is larger than 20 MiB.");
  if (rc == WAGI_IO_ERR_NOMEM) return answer(500, "Out of memory reading the request body.");
  if (rc) return answer(500, "The request body could not be read.");
  if (len == 0) {
    free(body);
    return answer(400, "The request body is empty: POST an image (JPEG, PNG, BMP or GIF).");
  }
  double body_read = now_ms() - start;
  uint8_t sum[WAGI_SHA256_LEN];
  char digest[2 * WAGI_SHA256_LEN + 1];
  wagi_sha256(body, len, sum);
  static const char hex[] = "0123456789ABCDEF";
  for (int i = 0; i < WAGI_SHA256_LEN; i++) {
    digest[2 * i] = hex[sum[i] >> 4];
    digest[2 * i + 1] = hex[sum[i] & 15];
  }
  digest[2 * WAGI_SHA256_LEN] = 0;
  double hashed = now_ms() - start - body_read;

  cache c = {0};
  wagi_az_error err;
  if (wagi_az_cosmos_from_env(&c.db, &err))
    fprintf(stderr, "tf: cache disabled: %s\n", err.message);
  else c.enabled = 1;

  double t0 = now_ms();
  char *cached = cache_get(&c, digest);
  double cache_read = now_ms() - t0;
  if (cached) {
    double total = now_ms() - start;
    fprintf(stderr, "tf: %s: cache hit (total %.1f ms: body %.1f, sha256 %.1f, cache read %.1f)\n",
            digest, total, body_read, hashed, cache_read);
    printf(
        "Content-Type: text/plain; charset=utf-8\nX-Cache: hit\n"
        "Server-Timing: total;dur=%.2f, body;dur=%.2f, sha256;dur=%.2f, "
        "cache-read;dur=%.2f\n\n%s\n",
        total, body_read, hashed, cache_read, cached);
    free(cached);
    free(body);
    if (c.enabled) wagi_az_cosmos_free(&c.db);
    return 0;
  }

  char text[1024];
  timings t = {0};
  int status = classify(body, len, text, sizeof text, &t);
  free(body);
  if (status) {
    fprintf(stderr, "tf: %s: %d: %s\n", digest, status, text);
    if (c.enabled) wagi_az_cosmos_free(&c.db);
    return answer(status, text);
  }
  double t1 = now_ms();
  cache_put(&c, digest, text);
  double cache_write = now_ms() - t1;
  if (c.enabled) wagi_az_cosmos_free(&c.db);
  double total = now_ms() - start;
  fprintf(stderr,
          "tf: %s: inference ran: %s (total %.1f ms: body %.1f, sha256 %.1f, cache read %.1f, "
          "decode %.1f, model read %.1f, model load %.1f, resize %.1f, invoke %.1f, labels %.1f, "
          "cache write %.1f)\n",
          digest, text, total, body_read, hashed, cache_read, t.decode, t.model_read, t.model_load,
          t.resize, t.invoke, t.labels, cache_write);
  printf(
      "Content-Type: text/plain; charset=utf-8\nX-Cache: miss\n"
      "Server-Timing: total;dur=%.2f, body;dur=%.2f, sha256;dur=%.2f, cache-read;dur=%.2f, "
      "decode;dur=%.2f, model-read;dur=%.2f, model-load;dur=%.2f, resize;dur=%.2f, "
      "invoke;dur=%.2f, labels;dur=%.2f, cache-write;dur=%.2f\n\n%s\n",
      total, body_read, hashed, cache_read, t.decode, t.model_read, t.model_load, t.resize,
      t.invoke, t.labels, cache_write, text);
  return 0;
}
