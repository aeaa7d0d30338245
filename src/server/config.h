/* config.h — loads WAGI's module map (`modules.toml`) into plain C structs.
 *
 * The file format is WAGI's (docs/server.md §modules.toml): a top-level array
 * of tables [[module]] with the keys route, module, entrypoint, volumes,
 * allowed_hosts, http_max_concurrency, argv, plus the legacy keys
 * environment and host; bindle_server and repository are ignored, and so are
 * unknown keys (as WAGI does). A known key with the wrong type or a bad value
 * is an error naming FILE:LINE:COLUMN, the module and what is wrong.
 *
 * wagi-c limit keys: the same names may appear in a top-level [limits] table
 * (defaults for every module) and in each [[module]] (overriding them):
 *
 *   time_limit_ms           wall-clock limit per request, 1..86400000 ms
 *                           (default 30000)
 *   memory_limit_bytes      linear memory cap per instance, in BYTES; must be
 *                           a multiple of the 65536-byte wasm page, 64 KiB..4 GiB
 *                           (default 256 MiB = 4096 pages)
 *   output_limit_bytes      stdout bytes a module may produce per request,
 *                           1 byte..4 GiB (default 16 MiB)
 *   stderr_limit_bytes      stderr bytes of one request that reach the
 *                           route's module.stderr, 1 byte..4 GiB (default
 *                           1 MiB); the rest is dropped and a marker line
 *                           written
 *   max_request_body_bytes  largest request body accepted, 1 byte..4 GiB
 *                           (default 16 MiB)
 *   max_concurrent_requests instances of this module running at once,
 *                           1..4294967295 (default 0 here: the server then
 *                           uses --max-concurrency, else 4 x online CPUs)
 *
 * Each module's `limits` holds the effective values (module key, else
 * [limits], else the built-in default) and `limits_set` says which of them
 * the file set (module key or [limits]), so that the server can let its
 * command-line flags replace the built-in defaults only.
 *
 * Example:
 *   [limits]
 *   time_limit_ms = 10000
 *
 *   [[module]]
 *   route = "/hello/..."
 *   module = "file:///srv/hello.wasm"
 *   allowed_hosts = ["https://api.example.com", "http://localhost:8080"]
 *   memory_limit_bytes = 67108864   # 64 MiB = 1024 pages
 *
 * Relative module and volume paths are kept as written: WAGI resolves them
 * against the process's working directory, which is the server's job.
 */
#ifndef WAGI_SRV_CONFIG_H
#define WAGI_SRV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SRV_WASM_PAGE_SIZE 65536u

/* Built-in defaults, used when neither [limits] nor the module sets a key. */
#define SRV_DEFAULT_TIME_LIMIT_MS 30000u
#define SRV_DEFAULT_MEMORY_LIMIT_BYTES ((uint64_t)256 << 20)
#define SRV_DEFAULT_OUTPUT_LIMIT_BYTES ((uint64_t)16 << 20)
#define SRV_DEFAULT_STDERR_LIMIT_BYTES ((uint64_t)1 << 20)
#define SRV_DEFAULT_MAX_REQUEST_BODY_BYTES ((uint64_t)16 << 20)
#define SRV_DEFAULT_MAX_CONCURRENT_REQUESTS 0u /* 0 = no per-module limit */

/* Bits of srv_module_config.limits_set / srv_config.limits_set. */
#define SRV_LIMIT_TIME 1u
#define SRV_LIMIT_MEMORY 2u
#define SRV_LIMIT_OUTPUT 4u
#define SRV_LIMIT_BODY 8u
#define SRV_LIMIT_CONCURRENCY 16u
#define SRV_LIMIT_STDERR 32u

/* Largest config file srv_config_load reads. */
#define SRV_CONFIG_MAX_FILE_SIZE ((size_t)16 << 20)

typedef enum {
  SRV_CONFIG_OK = 0,
  SRV_CONFIG_ERR_IO,      /* file missing, unreadable, not a regular file, too large */
  SRV_CONFIG_ERR_SYNTAX,  /* not valid TOML */
  SRV_CONFIG_ERR_INVALID, /* valid TOML, but not a valid module map */
  SRV_CONFIG_ERR_NOMEM,
} srv_config_status;

typedef struct {
  uint64_t time_limit_ms;
  uint64_t memory_limit_bytes; /* multiple of SRV_WASM_PAGE_SIZE */
  uint64_t output_limit_bytes;
  uint64_t stderr_limit_bytes;
  uint64_t max_request_body_bytes;
  uint32_t max_concurrent_requests; /* 0 = not set: the server decides */
} srv_limits;

typedef struct {
  char *guest; /* path the module sees, e.g. "/data" */
  char *host;  /* host directory, as written (may be relative) */
} srv_volume;

typedef struct {
  char *name;
  char *value;
} srv_env_var;

/* One parsed allowed_hosts entry: scheme://host[:port][/]. */
typedef struct {
  char *entry;   /* as written in the file */
  bool https;    /* scheme: https (true) or http (false) */
  char *host;    /* lowercased; an IPv6 literal without its brackets */
  uint16_t port; /* the explicit port, else 80 / 443 */
  bool explicit_port;
} srv_allowed_host;

typedef struct {
  size_t index;       /* 0-based position among the [[module]] entries */
  uint32_t line, col; /* where the entry starts in the file */
  char *route;        /* always starts with '/' (see warnings) */
  char *module_ref;   /* the `module` value as written */
  char *module_path;  /* local file: a plain path as written, or the path of
                         a file: URL, percent-decoded */
  char *entrypoint;   /* default "_start" */
  srv_volume *volumes;
  size_t n_volumes;
  /* Outbound HTTP: absent or empty = deny all. allow_all is set by the entry
   * "insecure:allow-all" (a warning is added to the config's warnings). */
  srv_allowed_host *allowed_hosts;
  size_t n_allowed_hosts;
  bool allow_all_hosts;
  uint32_t http_max_concurrency; /* 0 = key absent: no limit */
  char *argv;                    /* argv template, NULL = WAGI's default argv */
  srv_env_var *environment;
  size_t n_environment;
  char *host;          /* legacy virtual host (lowercased), NULL if absent */
  srv_limits limits;   /* effective limits: module > [limits] > built-in */
  unsigned limits_set; /* SRV_LIMIT_* bits the file set (module or [limits]) */
} srv_module_config;

typedef struct {
  char *filename; /* as used in messages */
  srv_module_config *modules;
  size_t n_modules;
  srv_limits defaults; /* [limits] over the built-in defaults */
  unsigned limits_set; /* SRV_LIMIT_* bits set by [limits] */
  char *default_host;  /* legacy top-level default_host, NULL if absent */
  /* Non-fatal findings, each "FILE:LINE:COLUMN: warning: ...": the server
   * prints them at startup. */
  char **warnings;
  size_t n_warnings;
} srv_config;

/* Reads and parses the module map at `path`. On success returns SRV_CONFIG_OK
 * (0) and stores a config owned by the caller (free it with srv_config_free)
 * in *out. On failure *out is untouched and err holds one line, e.g.
 * "modules.toml:7:24: module 2 (route \"/x\"): http_max_concurrency must be at least 1 ...". */
srv_config_status srv_config_load(const char *path, srv_config **out, char *err, size_t errlen);

/* Same for a document already in memory; `filename` is used in messages. */
srv_config_status srv_config_parse(const char *text, size_t len, const char *filename,
                                   srv_config **out, char *err, size_t errlen);

/* Frees a config (NULL is fine). */
void srv_config_free(srv_config *c);

/* Number of [[module]] entries (0 for NULL). */
size_t srv_config_module_count(const srv_config *c);

/* Static text for a status. */
const char *srv_config_status_str(srv_config_status s);

/* Parses one allowed_hosts entry ("https://api.example.com", "http://h:8080/").
 * Returns SRV_CONFIG_OK and fills *out (caller frees with
 * srv_allowed_host_clear), or SRV_CONFIG_ERR_INVALID / SRV_CONFIG_ERR_NOMEM
 * with the reason in err. "insecure:allow-all" is not an entry: callers
 * check for it first. */
srv_config_status srv_allowed_host_parse(const char *entry, srv_allowed_host *out, char *err,
                                         size_t errlen);
void srv_allowed_host_clear(srv_allowed_host *h);

/* Whether a module may send a request to scheme://host:port (scheme "http" or
 * "https", host as in the URL, port explicit or the scheme's default): the
 * wagi-c rule is that an entry admits only its own scheme, its host (compared
 * case-insensitively) and its explicit port or the scheme's default port. */
bool srv_module_allows_host(const srv_module_config *m, const char *scheme, const char *host,
                            uint16_t port);

#ifdef __cplusplus
}
#endif

#endif /* WAGI_SRV_CONFIG_H */
