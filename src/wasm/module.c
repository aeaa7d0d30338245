/* module.c — module-level glue: the compile pipeline, a module's release,
 * and the read-only introspection API over a decoded module. */
#include <stdlib.h>

#include "aot.h"
#include "wasm_int.h"

/* Decode, validate and translate. The module is released on any failure, so
 * *out is only written with a fully compiled module. */
wasm_status wasm_module_compile(const uint8_t *bytes, size_t len, wasm_module **out,
                                wasm_error *err) {
  if (err) {
    err->status = WASM_OK;
    err->func = err->offset = UINT32_MAX;
    err->exit_code = 0;
    err->msg[0] = 0;
  }
  if (!out) return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "no output pointer");
  wasm_module *m = NULL;
  wasm_status st = wasmi_decode(bytes, len, &m, err); /* frees what it made on failure */
  if (st) return st;
  st = wasmi_validate(m, err);
  if (!st) st = wasmi_compile(m, err);
  if (st) {
    wasmi_module_release(m);
    return st;
  }
  for (uint32_t i = 0; i < m->nimports; i++)
    m->imports[i].link_hash = wasmi_link_hash(m->imports[i].module, m->imports[i].name);
  *out = m;
  return WASM_OK;
}

void wasmi_module_release(wasm_module *m) {
  if (!m) return;
  wasmi_aot_code_free(m->aot);
  m->aot = NULL;
  if (m->bodies) {
    for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++)
      if (m->bodies[i].compiled) wasmi_code_free(m->bodies[i].compiled);
  }
  wasmi_decoded_free(m);
}

void wasm_module_free(wasm_module *m) { wasmi_module_release(m); }

/* ---- introspection ----------------------------------------------------------- */

uint32_t wasm_module_import_count(const wasm_module *m) { return m ? m->nimports : 0; }

void wasm_module_import(const wasm_module *m, uint32_t i, wasm_import_desc *out) {
  if (!m || i >= m->nimports) {
    *out = (wasm_import_desc){.module = "", .name = "", .kind = WASM_EXTERN_FUNC, .type = ""};
    return;
  }
  const wasm_import *im = &m->imports[i];
  out->module = im->module;
  out->name = im->name;
  out->kind = (wasm_extern_kind)im->kind;
  out->type = im->type_text ? im->type_text : "";
  out->limits = im->kind == WASM_EXTERN_TABLE    ? im->desc.table.limits
                : im->kind == WASM_EXTERN_MEMORY ? im->desc.mem.limits
                                                 : (wasm_limits){0};
}

uint32_t wasm_module_export_count(const wasm_module *m) { return m ? m->nexports : 0; }

void wasm_module_export(const wasm_module *m, uint32_t i, wasm_export_desc *out) {
  if (!m || i >= m->nexports) {
    *out =
        (wasm_export_desc){.name = "", .kind = WASM_EXTERN_FUNC, .index = UINT32_MAX, .type = ""};
    return;
  }
  const wasm_export *ex = &m->exports[i];
  out->name = ex->name;
  out->kind = (wasm_extern_kind)ex->kind;
  out->index = ex->index;
  out->type = ex->type_text ? ex->type_text : "";
  out->limits = ex->kind == WASM_EXTERN_TABLE    ? m->tables[ex->index].limits
                : ex->kind == WASM_EXTERN_MEMORY ? m->mems[ex->index].limits
                                                 : (wasm_limits){0};
}

const char *wasm_module_func_name(const wasm_module *m, uint32_t index) {
  if (!m || !m->func_names || index >= m->nfuncs) return NULL;
  return m->func_names[index];
}

uint32_t wasm_module_func_count(const wasm_module *m) { return m ? m->nfuncs : 0; }
uint32_t wasm_module_table_count(const wasm_module *m) { return m ? m->ntables : 0; }
uint32_t wasm_module_memory_count(const wasm_module *m) { return m ? m->nmems : 0; }

int wasm_module_table_type(const wasm_module *m, uint32_t index, wasm_valtype *elem,
                           wasm_limits *limits) {
  if (!m || index >= m->ntables) return 0;
  if (elem) *elem = (wasm_valtype)m->tables[index].elemtype;
  if (limits) *limits = m->tables[index].limits;
  return 1;
}

int wasm_module_memory_limits(const wasm_module *m, uint32_t index, wasm_limits *limits) {
  if (!m || index >= m->nmems) return 0;
  if (limits) *limits = m->mems[index].limits;
  return 1;
}

uint32_t wasm_module_section_count(const wasm_module *m) { return m ? m->nsections : 0; }

void wasm_module_section(const wasm_module *m, uint32_t i, wasm_section_desc *out) {
  if (!m || i >= m->nsections) {
    *out = (wasm_section_desc){0};
    return;
  }
  *out = m->sections[i];
}
