/* aot.h — the AOT tier inside the engine: the translator (aot_gen.c) and
 * the runtime that loads and calls its output (aot.c). Internal to
 * src/wasm/. */
#ifndef WASM_AOT_H
#define WASM_AOT_H

#include "aot_abi.h"
#include "wasm_int.h"

/* Writes the C translation of validated module m (its binary m->bytes is
 * embedded in the output, with its SHA-256 `digest` in the descriptor);
 * strict_loads makes every load happen even when its value is never used
 * (so that an out-of-bounds one always traps). On success *out is a
 * malloc'd NUL-terminated C source and *len its length. */
wasm_status wasmi_aot_generate(const wasm_module *m, const uint8_t digest[32], bool strict_loads,
                               char **out, size_t *len, wasm_error *err);

/* A module's loaded native code (module->aot). */
typedef struct wasmi_aot_code {
  void *handle; /* dlopen handle */
  const wagi_aot_module *desc;
  /* The memfd the code was loaded from, open while it is loaded: dlopen
   * finds loaded objects by name, so a reused /proc/self/fd/N would give
   * back another module's code. */
  int fd;
  uintptr_t text_lo, text_hi; /* the code's executable range */
  /* Where out-of-bounds faults happen: the .wasmc's trap map, pairs (code
   * address relative to `base`, #line marker of aot_gen.c), by address. */
  uint32_t *map;
  size_t nmap;
  uintptr_t base; /* the address the code is loaded at */
} wasmi_aot_code;

/* Instance set-up and teardown (instance.c calls them). */
wasm_status wasmi_aot_instance_init(wasm_instance *inst, wasm_error *err);
void wasmi_aot_instance_free(wasm_instance *inst);
/* Sets or clears the native code's view of inst->interrupted. */
void wasmi_aot_interrupt(wasm_instance *inst, bool on);
void wasmi_aot_code_free(wasmi_aot_code *code);

/* x86-64 micro-architecture levels generated code is built for: 0 the
 * baseline, 1 x86-64-v2, 2 x86-64-v3 (aot.c). */
#define WASMI_CPU_LEVELS 3
int wasmi_cpu_level_parse(const char *name); /* -1 if unknown */
const char *wasmi_cpu_level_name(int level);
int wasmi_host_cpu_level(void); /* 0 on other architectures */
/* 0 if a .wasmc whose trailer names `target` runs on a CPU of host_level,
 * else -1 with the reason (a sentence after "it ...") in why. */
int wasmi_aot_target_check(const char *target, int host_level, char *why, size_t cap);

/* Calls defined function f of an instance with native code (interp.c's
 * wasmi_interp_invoke hands such calls over). */
wasm_status wasmi_aot_invoke(wasm_func *f, wasm_slot *slots, wasm_error *err);

#endif
