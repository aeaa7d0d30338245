/* cgi.h — what a WAGI guest sees of its request (docs/modules.md §argv,
 * §Environment):
 * argv, the CGI environment, and the user variables of --env, --env-file
 * and the per-module `environment` table.
 *
 * Per request the server core fills an srv_request from the HTTP layer,
 * looks the route up (route.h) and calls srv_cgi_argv / srv_cgi_env. Both
 * return a NULL-terminated vector of strings in ONE malloc block (pointers
 * followed by the strings), freed with srv_strv_free (== free), so a request
 * costs two allocations here. The env strings are "NAME=VALUE", ready for
 * wasi_config.env. Cheaper: srv_cgi_pack writes both into a caller's
 * (stack) buffer in the packed form wasi_config.argv_packed / env_packed
 * takes: no allocation here, and wasi_ctx_new copies them with one memcpy.
 *
 * Environment precedence (wagi-c decision): CGI variables > HTTP_* >
 * --env > --env-file > module `environment`. Each name appears once.
 *
 * User variables are parsed once at startup into srv_env_list and merged
 * once per module with srv_env_merge, so a request only copies them.
 */
#ifndef WAGI_SRV_CGI_H
#define WAGI_SRV_CGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h" /* srv_env_var {name, value}: shared with the module map */
#include "route.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- User variables ------------------------------------------------------ */

/* Ordered, names unique (srv_env_list_set replaces an existing name in place). */
typedef struct {
  srv_env_var *items;
  size_t n, cap;
} srv_env_list;

void srv_env_list_free(srv_env_list *l); /* frees contents, zeroes *l */

/* Sets name=value (copies both); an existing name keeps its position and
 * gets the new value. Returns 0, or -1 on allocation failure. */
int srv_env_list_set(srv_env_list *l, const char *name, size_t name_len, const char *value,
                     size_t value_len);

/* One `--env NAME=VALUE` argument (docs/server.md §Command line): split at the first '='; missing
 * '=' or empty NAME is an error; a value that both starts and ends with '"' (or both with '\'') has
 * those two characters stripped. Adds it to `l` (later wins). Returns 0, or -1 with a sentence in
 * err. */
int srv_env_parse_assignment(const char *arg, srv_env_list *l, char *err, size_t errlen);

/* A dotenv-style file (--env-file): `NAME=VALUE` lines; blank lines and
 * `#` comments skipped; optional `export ` prefix; single-quoted values are
 * literal, double-quoted values take \n \t \r \\ \" \$ escapes; unquoted
 * values are trimmed and lose a ` #comment` tail. Adds to `l` (later wins).
 * Returns 0, or -1 with "FILE:LINE: what is wrong" in err. */
int srv_env_parse_file(const char *path, srv_env_list *l, char *err, size_t errlen);

/* Same on text already in memory; `name` is used in messages only. */
int srv_env_parse_text(const char *text, size_t len, const char *name, srv_env_list *l, char *err,
                       size_t errlen);

/* Merges the user variables for one module in precedence order: module
 * `environment` < --env-file < --env (any may be NULL). *out must be zeroed;
 * free it with srv_env_list_free. Returns 0, or -1 on allocation failure. */
int srv_env_merge(const srv_env_list *module_env, const srv_env_list *env_file,
                  const srv_env_list *env, srv_env_list *out);

/* ---- The request as the HTTP layer received it ----------------------------- */

typedef struct {
  const char *name; /* as received (any case) */
  size_t name_len;
  const char *value; /* raw bytes, may be anything */
  size_t value_len;
} srv_header;

typedef struct {
  const char *method; /* as received, e.g. "GET" */
  const char *path;   /* raw path: not decoded, query excluded */
  size_t path_len;
  const char *query; /* raw query without '?'; NULL when the target
                        had no '?' ("" when it had one and nothing
                        after: argv then gets one "" argument) */
  size_t query_len;
  const char *protocol;      /* "HTTP/1.0", "HTTP/1.1" */
  const srv_header *headers; /* in received order (a repeated name: one
                                HTTP_* variable, values joined with ", ",
                                "; " for Cookie; a name with '_' dropped) */
  size_t n_headers;
  const char *client_ip; /* numeric, no port ("::1" for IPv6) */
  uint64_t body_len;     /* received (de-chunked) body length */
  bool tls;              /* server serves HTTPS */
  const char *authority; /* host[:port] of an absolute-form target, else NULL */
  size_t authority_len;
  const char *default_host; /* --hostname ("localhost:3000"); NULL or "" = none */
} srv_request;

/* Splits a raw request target (as on the request line) into authority
 * (absolute-form "http://host:port/p?q" only), path and query. An
 * absolute-form target without a path gives path "/". All outputs are
 * slices of `target`; *query is NULL when there is no '?'. */
typedef struct {
  const char *authority;
  size_t authority_len; /* NULL if origin-form */
  const char *path;
  size_t path_len;
  const char *query;
  size_t query_len; /* NULL if no '?' */
} srv_target;
void srv_target_split(const char *target, size_t len, srv_target *out);

/* ---- argv and env ------------------------------------------------------------- */

/* Frees a vector returned below (NULL is fine). */
void srv_strv_free(char **v);

/* argv (docs/modules.md §argv): no template -> [path, q1, q2, ...] (query split on '&',
 * empty pieces kept, nothing decoded); with `argv_template` every
 * ${SCRIPT_NAME} becomes the raw path and ${ARGS} the raw query with '&'
 * turned into ' ', then the result is split on whitespace. Returns the
 * vector (count in *argc) or NULL on allocation failure. */
char **srv_cgi_argv(const srv_request *req, const char *argv_template, size_t *argc);

/* SERVER_NAME / SERVER_PORT (docs/modules.md §Environment: absolute-form authority, then
 * --hostname, then Host; "[v6]:port" kept whole). Writes NUL-terminated
 * strings into name (namecap) and port (portcap), truncating if too small. */
void srv_cgi_server_name_port(const srv_request *req, char *name, size_t namecap, char *port,
                              size_t portcap);

/* The complete guest environment (docs/modules.md §Environment) for one request matched to `m`,
 * with the user variables `user` (the srv_env_merge result for the module,
 * may be NULL). Returns the vector (count in *envc) or NULL on allocation
 * failure. */
char **srv_cgi_env(const srv_request *req, const srv_route_match *m, const srv_env_list *user,
                   size_t *envc);

/* Whether the request path holds an encoded NUL (`%00`) where it becomes
 * PATH_INFO (the X_RAW_PATH_INFO part of the match, percent-decoded): a NUL
 * cannot be part of an environment string, so the server answers such a
 * request 400 before it reaches a module. Should the environment be built
 * anyway, PATH_INFO keeps that `%00` encoded. Everything else that becomes
 * argv or env is raw request bytes (never decoded) or checked: header
 * values outside visible ASCII are CORRUPT VALUE, header names that are no
 * token are skipped. */
bool srv_cgi_path_info_has_nul(const srv_route_match *m);

/* argv and environment packed for wasi_config.argv_packed / env_packed:
 * each a run of NUL-terminated strings back to back, no pointer arrays. */
typedef struct {
  const char *argv; /* argc strings in argv_bytes bytes (NULs included) */
  size_t argv_bytes, argc;
  const char *env; /* envc "NAME=VALUE" strings in env_bytes bytes */
  size_t env_bytes, envc;
  char *heap; /* the block when `buf` was too small, else NULL */
} srv_cgi_packed;

/* What srv_cgi_argv and srv_cgi_env give, written into the caller's `buf`
 * (cap bytes, e.g. SRV_CGI_PACK_STACK on the stack: no allocation at all)
 * or, when it does not fit, into one malloc block (out->heap). The strings
 * are borrowed from buf / out->heap; free with srv_cgi_packed_free (which
 * frees only out->heap). Returns 0, or -1 on allocation failure (*out
 * zeroed). */
#define SRV_CGI_PACK_STACK 8192
int srv_cgi_pack(const srv_request *req, const char *argv_template, const srv_route_match *m,
                 const srv_env_list *user, void *buf, size_t cap, srv_cgi_packed *out);
void srv_cgi_packed_free(srv_cgi_packed *p);

#ifdef __cplusplus
}
#endif
#endif
