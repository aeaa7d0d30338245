/* module.c — module-level glue: compile pipeline, status and error text,
 * and the read-only introspection API over a decoded module. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
  if (!out)
    return wasm_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "no output pointer");
  wasm_module *m = NULL;
  wasm_status st = wasm_decode(bytes, len, &m, err);
  if (st) return st;
  st = wasm_validate(m, err);
  if (!st) st = wasm_compile(m, err);
  if (st) {
    wasm_module_release(m);
    return st;
  }
  for (uint32_t i = 0; i < m->nimports; i++)
    m->imports[i].link_hash = wasm_link_hash(m->imports[i].module, m->imports[i].name);
  *out = m;
  return WASM_OK;
}

void wasm_module_free(wasm_module *m) { wasm_module_release(m); }

/* ---- status and error text ----------------------------------------------- */

static const char *const status_text[WASM_STATUS_COUNT] = {
  [WASM_OK] = "ok",
  [WASM_ERR_MALFORMED] = "malformed module",
  [WASM_ERR_INVALID] = "invalid module",
  [WASM_ERR_LINK] = "link error",
  [WASM_ERR_NOMEM] = "out of memory",
  [WASM_ERR_NOT_FOUND] = "not found",
  [WASM_ERR_ARG] = "bad argument",
  [WASM_TRAP_UNREACHABLE] = "unreachable",
  [WASM_TRAP_MEM_OOB] = "out of bounds memory access",
  [WASM_TRAP_DIV_ZERO] = "integer divide by zero",
  [WASM_TRAP_INT_OVERFLOW] = "integer overflow",
  [WASM_TRAP_INVALID_CONVERSION] = "invalid conversion to integer",
  [WASM_TRAP_TABLE_OOB] = "out of bounds table access",
  [WASM_TRAP_UNDEFINED_ELEM] = "undefined element",
  [WASM_TRAP_UNINIT_ELEM] = "uninitialized element",
  [WASM_TRAP_INDIRECT_TYPE] = "indirect call type mismatch",
  [WASM_TRAP_STACK_EXHAUSTED] = "call stack exhausted",
  [WASM_TRAP_INTERRUPTED] = "interrupted",
  [WASM_TRAP_EXIT] = "exit",
  [WASM_TRAP_HOST] = "host error",
};

const char *wasm_status_str(wasm_status s) {
  if ((unsigned)s >= WASM_STATUS_COUNT || !status_text[s]) return "unknown status";
  return status_text[s];
}

int wasm_status_is_trap(wasm_status s) {
  return s >= WASM_TRAP_UNREACHABLE && s < WASM_STATUS_COUNT;
}

const char *wasm_valtype_str(wasm_valtype t) {
  switch (t) {
  case WASM_I32: return "i32";
  case WASM_I64: return "i64";
  case WASM_F32: return "f32";
  case WASM_F64: return "f64";
  case WASM_V128: return "v128";
  case WASM_FUNCREF: return "funcref";
  case WASM_EXTERNREF: return "externref";
  }
  return "?";
}

wasm_status wasm_error_set(wasm_error *err, wasm_status status, uint32_t func,
                           uint32_t offset, const char *fmt, ...) {
  if (!err) return status;
  err->status = status;
  err->func = func;
  err->offset = offset;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return status;
}

const char *wasm_func_label(const wasm_module *m, uint32_t func, char *buf, size_t n) {
  const char *name = wasm_module_func_name(m, func);
  if (name) snprintf(buf, n, "function %u ($%s)", func, name);
  else snprintf(buf, n, "function %u", func);
  return buf;
}

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
    *out = (wasm_export_desc){.name = "", .kind = WASM_EXTERN_FUNC, .index = UINT32_MAX, .type = ""};
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
