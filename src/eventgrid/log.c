/* log.c — the append-only record log data_dir/events.log (eventgrid.h).
 *
 * Format: the header "WAGIEGL2", then per record: u32 LE payload length,
 * u32 LE CRC-32 (IEEE 802.3, zlib's) of the payload, the payload. A batch
 * is written with one write() and, for publishes, made durable with
 * fdatasync() before the publisher hears 200, so a crash leaves at most a
 * torn tail of the last batch, which was never acknowledged: opening the
 * log cuts it off at the last whole record. Compaction writes a new log
 * beside the old one and renames it over, so a crash leaves one or the
 * other whole. */
#include "eventgrid.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"

#define LOG_MAGIC "WAGIEGL2"
#define LOG_MAGIC_PREFIX "WAGIEGL"
#define LOG_MAGIC_LEN 8
#define REC_HEADER 8
/* No record is larger than the largest batch a config may allow. */
#define REC_MAX EG_MAX_BATCH_LIMIT

struct eg_log {
  int fd;
  char *path;
  char *dir;
  uint64_t size; /* bytes of whole records (plus the header) */
  uint64_t generation;
};

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t eg_crc32(const void *data, size_t len) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, crc_init);
  const uint8_t *p = data;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* mkdir -p */
static int make_dirs(const char *dir) {
  char *p = strdup(dir);
  if (!p) return -1;
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0755) < 0 && errno != EEXIST) {
      free(p);
      return -1;
    }
    *s = '/';
  }
  int rc = mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
  free(p);
  return rc;
}

/* Replays whole records from the start through fn; returns the offset
 * after the last good one, -1 when out of memory, -2 when fn stopped. */
static int64_t scan(int fd, uint64_t file_size, eg_log_replay_fn fn, void *ctx) {
  uint8_t hdr[REC_HEADER];
  uint64_t off = LOG_MAGIC_LEN;
  size_t cap = 0;
  uint8_t *buf = NULL;
  for (;;) {
    if (file_size - off < REC_HEADER) break;
    if (pread(fd, hdr, REC_HEADER, (off_t)off) != REC_HEADER) break;
    uint32_t len = get32(hdr), crc = get32(hdr + 4);
    if (len == 0 || len > REC_MAX || file_size - off - REC_HEADER < len) break;
    if (len + 1 > cap) {
      uint8_t *nb = realloc(buf, len + 1);
      if (!nb) {
        free(buf);
        return -1;
      }
      buf = nb;
      cap = len + 1;
    }
    if (pread(fd, buf, len, (off_t)(off + REC_HEADER)) != (ssize_t)len) break;
    if (eg_crc32(buf, len) != crc) break;
    buf[len] = 0; /* payloads are text: callers may treat them as strings */
    if (fn(ctx, buf, len) < 0) {
      free(buf);
      return -2;
    }
    off += REC_HEADER + len;
  }
  free(buf);
  return (int64_t)off;
}

eg_status eg_log_open(const char *data_dir, eg_log_replay_fn fn, void *ctx, eg_log **out,
                      uint64_t *dropped_bytes, char *err, size_t errlen) {
  if (make_dirs(data_dir) < 0) {
    snprintf(err, errlen, "%s: cannot create the data directory: %s", data_dir, strerror(errno));
    return EG_ERR_IO;
  }
  eg_log *L = calloc(1, sizeof *L);
  size_t plen = strlen(data_dir) + sizeof "/events.log";
  if (!L || !(L->path = malloc(plen)) || !(L->dir = strdup(data_dir))) {
    if (L) free(L->path);
    free(L);
    snprintf(err, errlen, "out of memory");
    return EG_ERR_NOMEM;
  }
  snprintf(L->path, plen, "%s/events.log", data_dir);
  L->fd = open(L->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  struct stat st;
  if (L->fd < 0 || fstat(L->fd, &st) < 0) {
    snprintf(err, errlen, "%s: cannot open the event log: %s", L->path, strerror(errno));
    goto fail;
  }
  uint64_t size = (uint64_t)st.st_size, good;
  if (size == 0) {
    /* new log (or one whose header never reached the disk) */
    if (base_write_all(L->fd, LOG_MAGIC, LOG_MAGIC_LEN) < 0 || fdatasync(L->fd) < 0) {
      snprintf(err, errlen, "%s: cannot write the event log: %s", L->path, strerror(errno));
      goto fail;
    }
    good = LOG_MAGIC_LEN;
  } else {
    char magic[LOG_MAGIC_LEN];
    if (size < LOG_MAGIC_LEN || pread(L->fd, magic, LOG_MAGIC_LEN, 0) != LOG_MAGIC_LEN ||
        memcmp(magic, LOG_MAGIC_PREFIX, sizeof LOG_MAGIC_PREFIX - 1)) {
      snprintf(err, errlen, "%s: not a wagi eventgrid log (no \"%s\" header); move it away",
               L->path, LOG_MAGIC);
      goto fail;
    }
    if (memcmp(magic, LOG_MAGIC, LOG_MAGIC_LEN)) {
      snprintf(err, errlen,
               "%s: a log in format \"%.8s\", written by an earlier development version; this "
               "version reads \"%s\": move it away",
               L->path, magic, LOG_MAGIC);
      goto fail;
    }
    int64_t g = scan(L->fd, size, fn, ctx);
    if (g == -1) {
      snprintf(err, errlen, "out of memory reading %s", L->path);
      goto fail;
    }
    if (g == -2) {
      snprintf(err, errlen, "%s: cannot be replayed (see the message above)", L->path);
      goto fail;
    }
    good = (uint64_t)g;
    if (good < size) {
      /* a torn or corrupt tail: appends must follow the last good record */
      if (ftruncate(L->fd, (off_t)good) < 0 || fdatasync(L->fd) < 0) {
        snprintf(err, errlen, "%s: cannot cut off a torn tail: %s", L->path, strerror(errno));
        goto fail;
      }
    }
  }
  if (lseek(L->fd, (off_t)good, SEEK_SET) < 0) {
    snprintf(err, errlen, "%s: %s", L->path, strerror(errno));
    goto fail;
  }
  L->size = good;
  *dropped_bytes = size > good ? size - good : 0;
  *out = L;
  return EG_OK;
fail:
  if (L->fd >= 0) close(L->fd);
  free(L->path);
  free(L->dir);
  free(L);
  return EG_ERR_IO;
}

/* The records framed into one buffer (with the header first when
 * `with_magic`). */
static uint8_t *frame(const eg_record *recs, size_t n, bool with_magic, size_t *total, char *err,
                      size_t errlen) {
  size_t t = with_magic ? LOG_MAGIC_LEN : 0;
  for (size_t i = 0; i < n; i++) {
    if (recs[i].len == 0 || recs[i].len > REC_MAX) {
      snprintf(err, errlen, "record %zu is %zu bytes: not a loggable size", i, recs[i].len);
      return NULL;
    }
    t += REC_HEADER + recs[i].len;
  }
  uint8_t *buf = malloc(t ? t : 1);
  if (!buf) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  uint8_t *p = buf;
  if (with_magic) {
    memcpy(p, LOG_MAGIC, LOG_MAGIC_LEN);
    p += LOG_MAGIC_LEN;
  }
  for (size_t i = 0; i < n; i++) {
    put32(p, (uint32_t)recs[i].len);
    put32(p + 4, eg_crc32(recs[i].data, recs[i].len));
    memcpy(p + REC_HEADER, recs[i].data, recs[i].len);
    p += REC_HEADER + recs[i].len;
  }
  *total = t;
  return buf;
}

eg_status eg_log_append(eg_log *L, const eg_record *recs, size_t n, bool sync, char *err,
                        size_t errlen) {
  size_t total = 0;
  uint8_t *buf = frame(recs, n, false, &total, err, errlen);
  if (!buf) return EG_ERR_IO;
  eg_status st = EG_OK;
  if (base_write_all(L->fd, buf, total) < 0 || (sync && fdatasync(L->fd) < 0)) {
    snprintf(err, errlen, "%s: cannot append: %s", L->path, strerror(errno));
    /* Leave no half batch for later appends to follow: cut back to the last
     * whole record (a publisher gets a 500 and may retry). */
    if (ftruncate(L->fd, (off_t)L->size) == 0) (void)lseek(L->fd, (off_t)L->size, SEEK_SET);
    st = EG_ERR_IO;
  } else {
    L->size += total;
  }
  free(buf);
  return st;
}

eg_status eg_log_rewrite(eg_log *L, const eg_record *recs, size_t n, char *err, size_t errlen) {
  size_t total = 0;
  uint8_t *buf = frame(recs, n, true, &total, err, errlen);
  if (!buf) return EG_ERR_IO;
  size_t plen = strlen(L->path) + sizeof ".compact";
  char *tmp = malloc(plen);
  if (!tmp) {
    free(buf);
    snprintf(err, errlen, "out of memory");
    return EG_ERR_NOMEM;
  }
  snprintf(tmp, plen, "%s.compact", L->path);
  int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || base_write_all(fd, buf, total) < 0 || fdatasync(fd) < 0 ||
      rename(tmp, L->path) < 0) {
    snprintf(err, errlen, "%s: cannot compact: %s", tmp, strerror(errno));
    if (fd >= 0) {
      close(fd);
      (void)unlink(tmp);
    }
    free(tmp);
    free(buf);
    return EG_ERR_IO; /* the old log is untouched */
  }
  /* renamed: from here on the new file is the log, whatever else fails */
  close(L->fd);
  L->fd = fd;
  L->size = total;
  L->generation++;
  (void)lseek(fd, (off_t)total, SEEK_SET);
  free(tmp);
  free(buf);
  int dfd = open(L->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync(dfd) < 0) {
    snprintf(err, errlen, "%s: cannot sync the directory after compacting: %s", L->dir,
             strerror(errno));
    if (dfd >= 0) close(dfd);
    return EG_ERR_IO;
  }
  close(dfd);
  return EG_OK;
}

eg_status eg_log_sync(eg_log *L, char *err, size_t errlen) {
  if (fdatasync(L->fd) == 0) return EG_OK;
  snprintf(err, errlen, "%s: cannot sync: %s", L->path, strerror(errno));
  return EG_ERR_IO;
}

uint64_t eg_log_size(const eg_log *L) { return L->size; }
uint64_t eg_log_generation(const eg_log *L) { return L->generation; }
const char *eg_log_path(const eg_log *L) { return L->path; }

void eg_log_close(eg_log *L) {
  if (!L) return;
  close(L->fd);
  free(L->path);
  free(L->dir);
  free(L);
}
