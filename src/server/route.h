/* route.h — WAGI routing (docs/server.md §Routing, docs/modules.md §_routes): route patterns, the
 * `_routes` protocol, and the ordered route table with its first-match rule.
 *
 * Usage (the server core owns instantiation and the modules):
 *
 *   srv_route_table *t = srv_route_table_new();
 *   for each [[module]] in file order:
 *     srv_dyn_routes dyn = {0};              // stays empty if no `_routes`
 *     if (module exports `_routes`) {
 *       run it, capture stdout;
 *       if (srv_routes_parse_dynamic(out, len, &dyn, err, sizeof err))
 *         fail startup with "<route>: _routes: <err>";
 *     }
 *     if (srv_route_table_add(t, route, entrypoint, host, handler, &dyn,
 *                             err, sizeof err)) fail startup;
 *     srv_dyn_routes_free(&dyn);
 *   ...
 *   per request:
 *     srv_route_match m;
 *     switch (srv_route_lookup(t, path, path_len, host_hdr, &m)) {
 *     case SRV_ROUTE_HEALTHZ: 200 "OK", no Content-Type
 *     case SRV_ROUTE_NONE:    404, empty body
 *     case SRV_ROUTE_FOUND:   run m.route->handler / m.route->entrypoint
 *     }
 *
 * The built-in Exact `/healthz` lives in the table (it is always tried
 * first, so a configured `/healthz` module is unreachable).
 *
 * A route text without a leading `/` (`route = "infer"`) is normalised to
 * `/infer` by srv_route_table_add (the config loader prints the warning);
 * every field below holds the normalised text.
 *
 * Per-module `host` (legacy WAGI, kept by wagi-c): an entry added
 * with a non-NULL `host` matches only when the request's Host header,
 * compared case-insensitively and port included, equals it; entries without
 * `host` match whatever the Host header says.
 *
 * Ownership: the table copies every string it is given; `handler` is an
 * opaque pointer owned by the caller. Entries and their strings stay valid
 * (and never move) until srv_route_table_free. Lookups are read-only and may
 * run concurrently from any number of threads.
 */
#ifndef WAGI_SRV_ROUTE_H
#define WAGI_SRV_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SRV_ROUTE_EXACT,  /* byte equality with the whole raw path */
  SRV_ROUTE_PREFIX, /* text ends in "/...": base P, matches P and P/... */
} srv_route_kind;

/* One entry of the table: a configured route or a `_routes` sub-route. */
typedef struct srv_route {
  srv_route_kind kind;
  const char *text; /* route text as matched, incl. "/..."; this is
                       X_MATCHED_ROUTE and the log-dir key */
  size_t text_len;
  const char *base; /* Exact: == text; Prefix: P (text minus "/...") */
  size_t base_len;
  const char *script_name; /* SCRIPT_NAME: Exact text, or P with a leading
                              "/" added if it lacks one ("/..." -> "/") */
  const char *entrypoint;  /* export to call ("_start" by default) */
  const char *host;        /* legacy per-module host, lowercased; NULL = any */
  const char *parent_text; /* text of the configured route this entry came
                              from (== text for the configured route itself);
                              `_routes` runs log to the parent's file */
  void *handler;           /* caller's per-module data (borrowed) */
  bool dynamic;            /* came from `_routes` output */
} srv_route;

/* One parsed line of `_routes` output: "SUBROUTE ENTRYPOINT". */
typedef struct {
  char *subroute;
  char *entrypoint;
} srv_dyn_route;

/* All lines in print order (the table reverses them). */
typedef struct {
  srv_dyn_route *items;
  size_t n;
} srv_dyn_routes;

typedef struct srv_route_table srv_route_table;

typedef enum {
  SRV_ROUTE_NONE = 0, /* no match: 404 */
  SRV_ROUTE_FOUND,    /* m->route is the entry to run */
  SRV_ROUTE_HEALTHZ,  /* built-in /healthz: 200 "OK" */
} srv_route_result;

/* What srv_route_lookup found: the entry, plus the per-request CGI values
 * that depend on the match. */
typedef struct {
  const srv_route *route;    /* NULL unless SRV_ROUTE_FOUND */
  const char *raw_path_info; /* X_RAW_PATH_INFO: a slice of the raw path
                                given to the lookup (NOT NUL-terminated);
                                "" (len 0) for Exact routes */
  size_t raw_path_info_len;
} srv_route_match;

/* Parses the stdout of a module's `_routes` export (docs/modules.md §_routes): must be valid,
 * non-empty UTF-8; lines split on LF with one trailing CR removed; empty
 * lines skipped; every other line must have exactly two whitespace-separated
 * fields; output with no route line at all (empty, or only blank lines) is
 * an error too. Returns 0 and fills *out (free with srv_dyn_routes_free), or
 * -1 with a sentence in err ("line 3: expected 'SUBROUTE ENTRYPOINT' (2
 * fields), found 1: '/foo'") and *out untouched. */
int srv_routes_parse_dynamic(const char *text, size_t len, srv_dyn_routes *out, char *err,
                             size_t errlen);

/* Frees what srv_routes_parse_dynamic stored (NULL or zeroed is fine). */
void srv_dyn_routes_free(srv_dyn_routes *d);

/* Joins a parent route text and a `_routes` SUBROUTE: parent base
 * with one trailing '/' removed + "/" + SUBROUTE with one leading '/'
 * removed; the kind follows SUBROUTE. Returns a malloc'd string (caller
 * frees) or NULL on allocation failure. */
char *srv_route_join(const char *parent, const char *subroute);

/* Empty table holding only the built-in /healthz. NULL on allocation failure. */
srv_route_table *srv_route_table_new(void);
void srv_route_table_free(srv_route_table *t);

/* Appends one configured handler: its `_routes` entries (dyn, may be NULL
 * or empty) in reverse print order, each joined onto `route` and with its own
 * entrypoint, then `route` itself with `entrypoint` (NULL = "_start").
 * `host` NULL = no host key. Returns 0, or -1 with a sentence in err
 * (allocation failure, empty route). */
int srv_route_table_add(srv_route_table *t, const char *route, const char *entrypoint,
                        const char *host, void *handler, const srv_dyn_routes *dyn, char *err,
                        size_t errlen);

/* Number of user entries (without /healthz) and the i-th in match order. */
size_t srv_route_table_len(const srv_route_table *t);
const srv_route *srv_route_table_at(const srv_route_table *t, size_t i);

/* Does `r` match raw path `path` (host not considered)? */
bool srv_route_matches(const srv_route *r, const char *path, size_t path_len);

/* Finds the first entry matching the raw request path (not decoded, query
 * excluded) and, for legacy `host` entries, the Host header value (NULL if
 * the request has none). Fills *m on SRV_ROUTE_FOUND (zeroes it otherwise). */
srv_route_result srv_route_lookup(const srv_route_table *t, const char *path, size_t path_len,
                                  const char *host_header, srv_route_match *m);

#ifdef __cplusplus
}
#endif
#endif
