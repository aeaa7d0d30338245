/* status.c — status and value-type texts and the error helpers every other
 * engine file uses. It calls nothing else in the engine, so it sits at the
 * bottom of the engine's file dependencies (see wasm_int.h). */
#include <stdarg.h>
#include <stdio.h>

#include "wasm_int.h"

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

wasm_status wasmi_error_set(wasm_error *err, wasm_status status, uint32_t func, uint32_t offset,
                            const char *fmt, ...) {
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

const char *wasmi_func_label(const wasm_module *m, uint32_t func, char *buf, size_t n) {
  /* The name section directly: this file depends on no other engine file. */
  const char *name = m && m->func_names && func < m->nfuncs ? m->func_names[func] : NULL;
  if (name) snprintf(buf, n, "function %u ($%s)", func, name);
  else snprintf(buf, n, "function %u", func);
  return buf;
}
