/* fuzz_wasm_load.c — libFuzzer target for the engine's front end: decode,
 * validate and compile (src/wasm/decode.c, validate.c, compile.c) of
 * arbitrary bytes, then, for a module that compiles, its descriptors and
 * the AOT translator's C generation (aot_gen.c; no C compiler runs).
 *
 * A refused module must say why (a message and a MALFORMED / INVALID /
 * NOMEM status); an accepted one must describe itself consistently and
 * translate to C (a NUL-terminated text of the stated length). */
#include <stdint.h>

#include "base/sha256.h"
#include "fuzz_common.h"
#include "wasm/aot.h"
#include "wasm/wasm.h"

/* Big inputs only slow the search down; the seeds are smaller. */
#define MAX_INPUT (256 * 1024)

static void check_descriptors(const wasm_module *m, size_t size) {
  uint32_t n = wasm_module_import_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wasm_import_desc d;
    wasm_module_import(m, i, &d);
    FUZZ_CHECK(d.module && d.name && d.type, "import %u", i);
    FUZZ_CHECK(d.kind <= WASM_EXTERN_GLOBAL, "import %u kind %d", i, (int)d.kind);
  }
  n = wasm_module_export_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wasm_export_desc d;
    wasm_module_export(m, i, &d);
    FUZZ_CHECK(d.name && d.type, "export %u", i);
    uint32_t space = d.kind == WASM_EXTERN_FUNC     ? wasm_module_func_count(m)
                     : d.kind == WASM_EXTERN_TABLE  ? wasm_module_table_count(m)
                     : d.kind == WASM_EXTERN_MEMORY ? wasm_module_memory_count(m)
                                                    : UINT32_MAX;
    FUZZ_CHECK(d.index < space, "export %u index %u of %u", i, d.index, space);
  }
  for (uint32_t i = 0; i < wasm_module_func_count(m); i++) (void)wasm_module_func_name(m, i);
  n = wasm_module_section_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wasm_section_desc s;
    wasm_module_section(m, i, &s);
    FUZZ_CHECK(s.id <= 13 && (uint64_t)s.offset + s.size <= size, "section %u (id %u)", i, s.id);
  }
  for (uint32_t i = 0; i < wasm_module_table_count(m); i++) {
    wasm_limits l;
    FUZZ_CHECK(wasm_module_table_type(m, i, NULL, &l), "table %u", i);
  }
  for (uint32_t i = 0; i < wasm_module_memory_count(m); i++) {
    wasm_limits l;
    FUZZ_CHECK(wasm_module_memory_limits(m, i, &l), "memory %u", i);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT) return 0;
  wasm_module *m = NULL;
  wasm_error err;
  memset(&err, 0, sizeof err);
  wasm_status st = wasm_module_compile(data, size, &m, &err);
  if (st != WASM_OK) {
    FUZZ_CHECK(m == NULL, "module written on failure");
    FUZZ_CHECK(st == WASM_ERR_MALFORMED || st == WASM_ERR_INVALID || st == WASM_ERR_NOMEM,
               "status %s", wasm_status_str(st));
    FUZZ_CHECK(fuzz_msg_ok(err.msg, sizeof err.msg), "no message for %s", wasm_status_str(st));
    return 0;
  }
  check_descriptors(m, size);

  uint8_t digest[32];
  base_sha256(data, size, digest);
  char *c = NULL;
  size_t clen = 0;
  st = wasmi_aot_generate(m, digest, size & 1, &c, &clen, &err);
  if (st == WASM_OK) {
    FUZZ_CHECK(c && clen > 0 && c[clen] == 0 && strlen(c) == clen, "C text of %zu bytes", clen);
    free(c);
  } else {
    /* Only memory may run out: every valid module translates. */
    FUZZ_CHECK(st == WASM_ERR_NOMEM, "translation failed: %s", err.msg);
  }
  wasm_module_free(m);
  return 0;
}
