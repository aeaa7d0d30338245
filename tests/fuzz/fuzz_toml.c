/* fuzz_toml.c — libFuzzer target for the TOML parser (src/server/toml.c)
 * and the modules.toml loader built on it (src/server/config.c).
 *
 * Each input is parsed as a TOML document and, separately, as a module map.
 * A refusal must come with a "FILE:LINE:COLUMN: ..." message and leave the
 * output alone; an accepted document must be a well-formed tree (kinds,
 * NUL-terminated strings of the stated length, depth within TOML_MAX_DEPTH,
 * every key found again by lookup, positions inside the text); an accepted
 * module map must hold what config.h promises (routes start with '/',
 * limits within their ranges, names present). */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "server/config.h"
#include "server/toml.h"

static uint32_t count_lines(const uint8_t *d, size_t n) {
  uint32_t lines = 1;
  for (size_t i = 0; i < n; i++) lines += d[i] == '\n';
  return lines;
}

static void check_tree(const toml_value *v, unsigned depth, uint32_t max_line) {
  FUZZ_CHECK(depth <= TOML_MAX_DEPTH + 1, "depth %u", depth);
  FUZZ_CHECK(v->line >= 1 && v->line <= max_line && v->col >= 1, "position %u:%u of %u lines",
             v->line, v->col, max_line);
  switch (v->kind) {
  case TOML_TABLE:
    FUZZ_CHECK(toml_table_len(v) == v->u.table.n, "table length");
    for (size_t i = 0; i < v->u.table.n; i++) {
      const toml_entry *e = toml_table_entry(v, i);
      FUZZ_CHECK(e && e->key && e->value && e->key[e->key_len] == 0, "entry %zu", i);
      FUZZ_CHECK(toml_table_getn(v, e->key, e->key_len) == e->value, "key %zu not found again", i);
      check_tree(e->value, depth + 1, max_line);
    }
    FUZZ_CHECK(toml_table_entry(v, v->u.table.n) == NULL, "entry past the end");
    break;
  case TOML_ARRAY:
    FUZZ_CHECK(toml_array_len(v) == v->u.array.n, "array length");
    for (size_t i = 0; i < v->u.array.n; i++) {
      FUZZ_CHECK(toml_array_at(v, i) == v->u.array.items[i], "array element %zu", i);
      check_tree(v->u.array.items[i], depth + 1, max_line);
    }
    FUZZ_CHECK(toml_array_at(v, v->u.array.n) == NULL, "element past the end");
    break;
  case TOML_STRING:
  case TOML_DATETIME:
    FUZZ_CHECK(v->u.str.ptr && v->u.str.ptr[v->u.str.len] == 0, "string not terminated");
    if (v->kind == TOML_DATETIME) FUZZ_CHECK(v->u.str.len >= 8, "date-time too short");
    break;
  case TOML_INTEGER:
  case TOML_FLOAT:
  case TOML_BOOL: break;
  default: FUZZ_CHECK(0, "kind %d", (int)v->kind);
  }
  FUZZ_CHECK(strcmp(toml_kind_name(v->kind), "?") != 0, "kind name");
}

static void check_config(const srv_config *c) {
  FUZZ_CHECK(srv_config_module_count(c) == c->n_modules, "module count");
  for (size_t i = 0; i < c->n_warnings; i++) FUZZ_CHECK(c->warnings[i], "warning %zu", i);
  for (size_t i = 0; i < c->n_modules; i++) {
    const srv_module_config *m = &c->modules[i];
    FUZZ_CHECK(m->index == i, "module index");
    FUZZ_CHECK(m->route && m->route[0] == '/', "route of module %zu", i);
    FUZZ_CHECK(m->module_ref && m->module_path && m->entrypoint, "names of module %zu", i);
    FUZZ_CHECK(m->limits.memory_limit_bytes % SRV_WASM_PAGE_SIZE == 0, "memory limit");
    for (size_t k = 0; k < m->n_volumes; k++) (void)strlen(m->volumes[k].host);
    for (size_t k = 0; k < m->n_allowed_hosts; k++) {
      const srv_allowed_host *h = &m->allowed_hosts[k];
      FUZZ_CHECK(h->entry && h->host, "allowed host %zu", k);
      /* An entry admits its own destination. */
      FUZZ_CHECK(srv_module_allows_host(m, h->https ? "https" : "http", h->host, h->port) ||
                     strchr(h->host, ':'),
                 "entry %s does not admit itself", h->entry);
    }
    for (size_t k = 0; k < m->n_environment; k++)
      FUZZ_CHECK(m->environment[k].name && m->environment[k].value, "environment %zu", k);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20)) return 0;
  char err[512];
  err[0] = 0;
  toml_value *root = (toml_value *)&err; /* must stay untouched on failure */
  toml_status st = toml_parse((const char *)data, size, "fuzz.toml", &root, err, sizeof err);
  if (st != TOML_OK) {
    FUZZ_CHECK(root == (toml_value *)&err, "output written on failure");
    FUZZ_CHECK(fuzz_msg_ok(err, sizeof err), "no message");
    FUZZ_CHECK(strncmp(err, "fuzz.toml:", 10) == 0, "message without position: %s", err);
  } else {
    FUZZ_CHECK(root && root->kind == TOML_TABLE, "root is not a table");
    check_tree(root, 0, count_lines(data, size));
    toml_free(root);
  }

  srv_config *c = NULL;
  err[0] = 0;
  srv_config_status cs =
      srv_config_parse((const char *)data, size, "modules.toml", &c, err, sizeof err);
  if (cs != SRV_CONFIG_OK) {
    FUZZ_CHECK(c == NULL, "config written on failure");
    FUZZ_CHECK(fuzz_msg_ok(err, sizeof err), "no message for status %d", (int)cs);
    FUZZ_CHECK(st == TOML_OK || cs == SRV_CONFIG_ERR_SYNTAX || cs == SRV_CONFIG_ERR_NOMEM,
               "the parser refused it but the loader says %d", (int)cs);
  } else {
    FUZZ_CHECK(st == TOML_OK, "the loader accepted what the parser refused");
    check_config(c);
    srv_config_free(c);
  }
  return 0;
}
