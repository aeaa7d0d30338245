/* server.h — the WAGI HTTP server (`wagi --config modules.toml`): what the
 * command line calls. The CLI (src/cli/server_flags.c) parses the flags
 * into an srv_options and runs the server in three steps:
 *
 *   srv_start   checks the options, loads modules.toml and every module,
 *               starts the runners and the HTTP listener (docs/server.md)
 *   srv_serve   announces "Ready: serving on ..." and waits for SIGINT or
 *               SIGTERM; a SIGHUP meanwhile reopens the log files
 *   srv_drain   stops accepting, finishes the requests in flight (at most
 *               10 s), and frees everything srv_start built
 *
 * One server per process: the signals it waits for are process-wide. What
 * the server's own files share is in server_int.h.
 */
#ifndef WAGI_SRV_SERVER_H
#define WAGI_SRV_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgi.h" /* srv_env_list */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Outcomes ------------------------------------------------------------------ */

/* What a server function reports; the sentence that goes with a failure is
 * written to the caller's `char *err, size_t errlen`. SRV_RUN_* describe
 * one run of a module (a request or `_routes`); srv_status_http gives the
 * HTTP status each one answers with. */
typedef enum {
  SRV_OK = 0,
  SRV_ERR_NOMEM,        /* out of memory */
  SRV_ERR_SYSTEM,       /* the OS refused a file, directory, socket or thread */
  SRV_ERR_INVALID,      /* bad input: an option, modules.toml, a module, routes */
  SRV_ERR_BUSY,         /* no capacity now: a full queue, a wait that ran out (503) */
  SRV_ERR_STOPPING,     /* the server is shutting down (503) */
  SRV_RUN_NO_EXPORT,    /* `_routes` discovery: the module exports none; nothing ran */
  SRV_RUN_INSTANTIATE,  /* instantiation failed (500) */
  SRV_RUN_NO_ENTRY,     /* the entrypoint is not exported (500) */
  SRV_RUN_TRAP,         /* a trap or an engine failure while running (500) */
  SRV_RUN_EXIT,         /* the module exited with a non-zero code (500) */
  SRV_RUN_OUTPUT_LIMIT, /* stdout over the output limit (500) */
  SRV_RUN_TIMEOUT,      /* interrupted at its wall-clock limit (504) */
} srv_status;

/* ---- Options ------------------------------------------------------------------- */

/* Defaults the CLI applies to flags not given (named in `wagi --help`). */
#define SRV_CONNECTION_LIMIT 1024u   /* --max-connections */
#define SRV_PER_IP_LIMIT 128u        /* --max-connections-per-ip */
#define SRV_HEADER_TIMEOUT_MS 10000u /* --header-timeout */

/* The limits one module runs under; in srv_options, 0 = not given on the
 * command line (modules.toml or config.h's defaults apply). */
typedef struct {
  uint32_t timeout_ms;
  uint32_t max_memory_pages;
  uint64_t max_output;
  uint64_t max_stderr; /* module stderr bytes per request; beyond: cut, marked */
  uint64_t max_body;
  uint32_t max_concurrency;
} srv_run_limits;

/* Which engine tier runs .wasm modules (--tier; docs/server.md §Native code). */
typedef enum {
  SRV_TIER_AUTO = 0, /* native code when available: a .wasmc runs natively, and with a
                        module cache a .wasm is compiled in the background */
  SRV_TIER_INTERP,   /* the interpreter only: nothing is compiled, a .wasmc is refused */
  SRV_TIER_AOT,      /* native code only: every .wasm is compiled (or found in the module
                        cache) before the server listens; one that cannot be stops it */
} srv_tier;

/* The command line, filled by the CLI. Strings and lists are borrowed:
 * they must stay valid until srv_drain returns. */
typedef struct {
  const char *config;             /* modules.toml; required */
  const char *listen;             /* numeric "IP:PORT" or "[IPv6]:PORT" */
  const char *hostname;           /* default HOST[:PORT] for SERVER_NAME/SERVER_PORT */
  const char *log_dir;            /* NULL: a new temporary directory */
  const char *tls_cert, *tls_key; /* both or neither */
  const char *access_log;         /* NULL or "-": stderr; "off": none */
  srv_env_list env;               /* --env, later wins */
  srv_env_list env_file;          /* --env-file, later file wins */
  srv_run_limits limits;          /* 0 = not given */
  uint32_t max_connections;
  uint32_t per_ip_limit; /* 0 = no limit */
  uint32_t header_timeout_ms;
  uint32_t workers;         /* --workers; 0 = one per CPU */
  uint32_t http_threads;    /* --http-threads; 0 = one per CPU */
  const char *module_cache; /* --module-cache DIR; NULL: .wasm modules are not compiled
                               (with --tier aot: compiled into a temporary directory) */
  srv_tier tier;            /* --tier */
} srv_options;

/* ---- Running ------------------------------------------------------------------- */

/* Starts the server: blocks SIGINT, SIGTERM and SIGHUP (for srv_serve), loads the
 * configuration and modules, and listens. Progress and warnings go to
 * stdout/stderr as they happen. Returns SRV_OK, or a failure with the
 * sentence in err; then nothing is left running or listening. */
srv_status srv_start(const srv_options *o, char *err, size_t errlen);

/* Prints "Ready: serving on http://IP:PORT" and waits for SIGINT or
 * SIGTERM; returns the signal. Each SIGHUP meanwhile reopens the log files
 * the server opened (the access log if it is a file, every route's
 * module.stderr) at their paths, for logrotate. */
int srv_serve(void);

/* After srv_serve: stops accepting, lets the requests in flight finish (at
 * most 10 s; a second signal cuts it short), interrupts the rest, logs the
 * run statistics and frees everything srv_start built. */
void srv_drain(int sig);

/* ---- Outbound HTTP outside the server -------------------------------------------- */

/* An allow-list built from allowed_hosts entries one by one, for `wagi run
 * --allow-host`: the same syntax ("https://api.example.com",
 * "http://localhost:8080", "insecure:allow-all") and the same matching
 * (scheme, host and port) as a modules.toml entry's allowed_hosts. Empty:
 * every destination denied. */
typedef struct srv_allow_list srv_allow_list;

/* A new empty list, or NULL when out of memory. Free with srv_allow_list_free. */
srv_allow_list *srv_allow_list_new(void);
/* Adds one entry. Returns SRV_OK, or SRV_ERR_INVALID / SRV_ERR_NOMEM with
 * why in err (e.g. "no scheme: write \"https://h\" or \"http://h\" ..."). */
srv_status srv_allow_list_add(srv_allow_list *l, const char *entry, char *err, size_t errlen);
/* Whether `l` (an srv_allow_list) admits scheme://host:port: the shape of
 * http.h's http_allow_fn. */
bool srv_allow_list_allows(void *l, const char *scheme, const char *host, uint16_t port);
void srv_allow_list_free(srv_allow_list *l);

#ifdef __cplusplus
}
#endif
#endif
