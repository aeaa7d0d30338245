/* aot.c — the AOT tier's runtime: the services generated code calls (the
 * wagi_aot_rt table of aot_abi.h), entering native code with the
 * interpreter's trap point, limits and error messages, and .wasmc files —
 * compiling one with the system C compiler and loading one back.
 *
 * A .wasmc is the compiler's ELF shared object (without debug sections),
 * the trap map, then a fixed trailer:
 *   magic "WAGIAOT2", u32 ABI, u32 trailer size, the module's SHA-256, the
 *   SHA-256 of the ELF part and the map, u64 ELF size, u64 map size,
 *   compiler and target strings.
 * The trap map is pairs of u32 (code address, #line marker), by address:
 * the line table the compiler wrote for aot_gen.c's markers, read with
 * elfutils' libdw when the module is compiled. It names the function and
 * offset of an out-of-bounds access, which on native code is a fault in the
 * guard pages (memory.c's handler records the faulting instruction), and
 * the calling instruction of a callee that cannot be entered or a host
 * function's error (found by walking the native stack to wasm code).
 * Loading checks every field before anything is mapped, then copies the ELF
 * part into a memfd and dlopens that, so the checked bytes are the mapped
 * bytes. The shared object embeds the module's binary (wagi_aot_wasm), which
 * is decoded, validated and compiled again: the module the instances see is
 * exactly the one the code was made from (digests compared). */
#include <dlfcn.h>
#include <elf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include "aot.h"
#include "aot_headers.h" /* generated: the headers generated code includes */
#include "base/file.h"
#include "base/sha256.h"

extern char **environ;

_Static_assert(WAGI_AOT_TRAP_UNREACHABLE == WASM_TRAP_UNREACHABLE, "trap codes");
_Static_assert(WAGI_AOT_TRAP_MEM_OOB == WASM_TRAP_MEM_OOB, "trap codes");
_Static_assert(WAGI_AOT_TRAP_DIV_ZERO == WASM_TRAP_DIV_ZERO, "trap codes");
_Static_assert(WAGI_AOT_TRAP_INT_OVERFLOW == WASM_TRAP_INT_OVERFLOW, "trap codes");
_Static_assert(WAGI_AOT_TRAP_INVALID_CONVERSION == WASM_TRAP_INVALID_CONVERSION, "trap codes");
_Static_assert(WAGI_AOT_TRAP_TABLE_OOB == WASM_TRAP_TABLE_OOB, "trap codes");
_Static_assert(WAGI_AOT_TRAP_STACK_EXHAUSTED == WASM_TRAP_STACK_EXHAUSTED, "trap codes");
_Static_assert(WAGI_AOT_TRAP_INTERRUPTED == WASM_TRAP_INTERRUPTED, "trap codes");
_Static_assert(sizeof(wagi_aot_slot) == sizeof(wasm_slot), "slot size");

#define TRAILER_MAGIC "WAGIAOT2"
#define TRAILER_MAGIC_V1 "WAGIAOT1" /* before the trap map */
/* -O3, not -O2: with the loops' interruption checks gone (aot_gen.c) gcc's
 * -O3 vectorises loops over linear memory after checking at run time that
 * their accesses do not overlap (matmul ran 2.7x slower at -O2), and
 * inlines small recursive functions (fib 1.4x slower at -O2). Without the
 * straight-line (SLP) vectoriser, which took a quarter of gcc's time on a
 * 1 MB module and gained nothing on the benchmarks, it compiles no slower
 * than -O2 did. */
#define AOT_OPT "-O3", "-fno-tree-slp-vectorize"
#define AOT_OPT_TEXT "-O3 -fno-tree-slp-vectorize"
#define AOT_STR_(x) #x
#define AOT_STR(x) AOT_STR_(x)
#define AOT_SYMBOL_NAME AOT_STR(WAGI_AOT_SYMBOL)
#define TRAILER_SIZE 256u

#if defined(__x86_64__)
#include <cpuid.h>
#define AOT_ARCH "x86_64"
#elif defined(__aarch64__)
#define AOT_ARCH "aarch64"
#else
#define AOT_ARCH "other"
#endif
#define AOT_TARGET AOT_ARCH "-linux"

typedef struct {
  char magic[8];
  uint32_t abi;
  uint32_t size;
  uint8_t module_sha256[32];
  uint8_t code_sha256[32]; /* of the ELF part and the map */
  uint64_t elf_len;
  uint64_t map_len; /* bytes */
  char compiler[96];
  char target[32];
  uint8_t pad[TRAILER_SIZE - 8 - 4 - 4 - 32 - 32 - 8 - 8 - 96 - 32];
} trailer;
_Static_assert(sizeof(trailer) == TRAILER_SIZE, "trailer layout");

/* ---- CPU level ---------------------------------------------------------------
 * Generated code is built for the best x86-64 micro-architecture level the
 * compiling machine has (-march=x86-64-v2 or -v3), unless told otherwise:
 * SIMD128 then becomes SSSE3/SSE4.1 shuffles, blends and widening moves
 * instead of SSE2 sequences and byte loops (the tf example's JPEG decode
 * 5.8 -> 3.5 ms, its MobileNetV2 20.3 -> 18.5 ms at v3). The level is part
 * of the trailer's target ("x86_64-v3-linux"; the baseline keeps
 * "x86_64-linux"), and a .wasmc is refused on a CPU without its level.
 * -ffp-contract=off keeps v3's FMA out of the module's arithmetic. */
static const char *const cpu_level_names[WASMI_CPU_LEVELS] = {"x86-64", "x86-64-v2", "x86-64-v3"};

int wasmi_cpu_level_parse(const char *name) {
  for (int i = 0; i < WASMI_CPU_LEVELS; i++)
    if (!strcmp(name, cpu_level_names[i])) return i;
  return -1;
}

const char *wasmi_cpu_level_name(int level) {
  return level >= 0 && level < WASMI_CPU_LEVELS ? cpu_level_names[level] : "?";
}

/* What this CPU (and the kernel, for AVX state) supports, from CPUID: the
 * feature lists of the x86-64 psABI's levels. */
int wasmi_host_cpu_level(void) {
#if defined(__x86_64__)
  unsigned a, b, c, d, ext_c = 0, leaf7_b = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  unsigned c1 = c;
  if (__get_cpuid(0x80000001u, &a, &b, &c, &d)) ext_c = c;
  if (__get_cpuid_max(0, NULL) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    leaf7_b = b;
  }
#define HAS(reg, bit) (((reg) >> (bit)) & 1u)
  /* SSE3, SSSE3, CX16, SSE4.1, SSE4.2, POPCNT; LAHF/SAHF */
  bool v2 = HAS(c1, 0) && HAS(c1, 9) && HAS(c1, 13) && HAS(c1, 19) && HAS(c1, 20) &&
            HAS(c1, 23) && HAS(ext_c, 0);
  if (!v2) return 0;
  /* FMA, MOVBE, OSXSAVE, AVX, F16C; LZCNT; BMI1, AVX2, BMI2; and the OS
   * saving XMM and YMM state */
  bool v3 = HAS(c1, 12) && HAS(c1, 22) && HAS(c1, 27) && HAS(c1, 28) && HAS(c1, 29) &&
            HAS(ext_c, 5) && HAS(leaf7_b, 3) && HAS(leaf7_b, 5) && HAS(leaf7_b, 8);
#undef HAS
  if (v3) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    v3 = (lo & 6u) == 6u;
  }
  return v3 ? 2 : 1;
#else
  return 0;
#endif
}

/* The trailer's target for code built at `level`. */
static void target_for(int level, char *out, size_t cap) {
  if (level <= 0) snprintf(out, cap, "%s", AOT_TARGET);
  else snprintf(out, cap, AOT_ARCH "-v%d-linux", level + 1);
}

int wasmi_aot_target_check(const char *target, int host_level, char *why, size_t cap) {
  for (int level = 0; level < WASMI_CPU_LEVELS; level++) {
    char t[32];
    target_for(level, t, sizeof t);
    if (strcmp(t, target)) continue;
    if (level <= host_level) return 0;
    snprintf(why, cap,
             "it was compiled for %s and this CPU is only %s: compile the module again on this "
             "machine (wagi compile), or with --cpu %s for any such machine",
             cpu_level_names[level], cpu_level_names[host_level < 0 ? 0 : host_level],
             cpu_level_names[host_level < 0 ? 0 : host_level]);
    return -1;
  }
  snprintf(why, cap, "it was compiled for %s, and this machine is %s", target, AOT_TARGET);
  return -1;
}

/* The level to build for: o->cpu, or the host's best. -1 (message in why)
 * for an unknown or unsupported name. */
static int build_level(const wasm_native_options *o, char *why, size_t cap) {
  int host = wasmi_host_cpu_level();
  if (!o || !o->cpu || !*o->cpu || !strcmp(o->cpu, "host")) return host;
  int level = wasmi_cpu_level_parse(o->cpu);
#if !defined(__x86_64__)
  if (level > 0) level = -1;
#endif
  if (level < 0) {
    snprintf(why, cap, "unknown CPU level \"%s\" (host, x86-64, x86-64-v2 or x86-64-v3)",
             o->cpu);
    return -1;
  }
  return level;
}

/* ---- trap locations from the trap map ---------------------------------------- */

/* aot_gen.c's #line markers: 4*off+1 the memory access at module offset
 * off, 4*off+2 the call at off, 4*off+3 elsewhere in off's function. */
enum { MARK_ACCESS = 1, MARK_CALL = 2, MARK_IN = 3 };

/* The marker of the code at pc (0: none, or not this module's code). */
static uint32_t marker_at(const wasmi_aot_code *a, uintptr_t pc) {
  if (!a || !a->nmap || pc < a->base) return 0;
  uint64_t rel = pc - a->base;
  size_t lo = 0, hi = a->nmap; /* the first entry above rel */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a->map[2 * mid] <= rel) lo = mid + 1;
    else hi = mid;
  }
  return lo ? a->map[2 * (lo - 1) + 1] : 0;
}

/* The function a marker's offset is in (UINT32_MAX: none). */
static uint32_t marker_func(const wasm_module *m, uint32_t line) {
  uint32_t off = (line - 1) / 4;
  size_t lo = 0, hi = m->nfuncs - m->nfunc_imports; /* the first body above off */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->bodies[mid].offset <= off) lo = mid + 1;
    else hi = mid;
  }
  if (!lo || off >= (uint64_t)(m->bodies[lo - 1].code_end - m->bytes)) return UINT32_MAX;
  return m->nfunc_imports + (uint32_t)(lo - 1);
}

/* The offset of the last memory access at or before `off` in body bd, or
 * when there is none the first one after it (UINT32_MAX: no access at
 * all). The C compiler sometimes gives a load it folded into later code (a
 * branch on it that became a select) the line of that later code, whose
 * marker then says "not an access": the access it stands for is the last
 * one before it. It may also give a load the line of earlier code it was
 * scheduled among (seen: a load from a constant address, in a loop, given
 * the line of the hang-limit check above the loop); when no access comes
 * before that line, the fault is the first access after it. */
static uint32_t nearest_access(const wasm_body *bd, const uint8_t *bytes, uint32_t off) {
  wasm_reader r = {bytes, bd->code, bd->code_end, NULL, NULL};
  uint32_t last = UINT32_MAX;
  while (r.p < r.end && !r.err) {
    uint32_t at = (uint32_t)(r.p - bytes);
    if (at > off && last != UINT32_MAX) break;
    uint8_t op = wasm_read_u8(&r);
    bool access = op >= WASM_OP_I32_LOAD && op <= WASM_OP_I64_STORE32;
    if (op == WASM_PREFIX_FD) {
      wasm_reader peek = r;
      uint32_t sub = wasm_read_u32(&peek);
      access = sub <= WASM_FD_V128_STORE || sub == WASM_FD_V128_LOAD32_ZERO ||
               sub == WASM_FD_V128_LOAD64_ZERO ||
               (sub >= WASM_FD_V128_LOAD8_LANE && sub <= WASM_FD_V128_STORE64_LANE);
    }
    if (access) last = at;
    wasmi_skip_imm(&r, op);
  }
  return last;
}

/* The out-of-bounds access at pc: its function and offset; unchanged when
 * pc is not the module's. */
static void fault_location(const wasm_module *m, const void *pc, uint32_t *func,
                           uint32_t *offset) {
  uint32_t line = marker_at(m->aot, (uintptr_t)pc);
  uint32_t f = line ? marker_func(m, line) : UINT32_MAX;
  if (f == UINT32_MAX) return;
  *func = f;
  if ((line & 3) == MARK_ACCESS) *offset = (line - 1) / 4;
  else *offset = nearest_access(&m->bodies[f - m->nfunc_imports], m->bytes, (line - 1) / 4);
}

typedef struct {
  const wasm_module *m;
  uint32_t func, offset;
  int frames;
} call_walk;

static _Unwind_Reason_Code call_walk_frame(struct _Unwind_Context *ctx, void *arg) {
  call_walk *w = arg;
  int before = 0;
  uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
  if (!before && ip) ip--; /* a return address: the call is just before it */
  uint32_t line = marker_at(w->m->aot, ip);
  if (line) { /* the nearest wasm code: a call there, or nothing known */
    uint32_t f = (line & 3) == MARK_CALL ? marker_func(w->m, line) : UINT32_MAX;
    if (f != UINT32_MAX) {
      w->func = f;
      w->offset = (line - 1) / 4;
    }
    return _URC_END_OF_STACK;
  }
  return ++w->frames < 64 ? _URC_NO_REASON : _URC_END_OF_STACK;
}

/* The call instruction nearest up the native stack, as the interpreter
 * names it for a callee that cannot be entered and a host function's
 * error: its function and offset, or unchanged (a trap, so the walk costs
 * only then). */
static void call_location(const wasm_module *m, uint32_t *func, uint32_t *offset) {
  call_walk w = {m, UINT32_MAX, UINT32_MAX, 0};
  if (!m->aot || !m->aot->nmap) return;
  _Unwind_Backtrace(call_walk_frame, &w);
  if (w.func == UINT32_MAX) return;
  *func = w.func;
  *offset = w.offset;
}

/* ---- the trap path ------------------------------------------------------- */

/* Where the last trap of this thread's native code happened. */
static _Thread_local struct {
  uint32_t func, offset;
  uintptr_t pc;             /* where the interrupt signal found the code (0: none) */
  wasm_instance *host_inst; /* the instance whose host call failed */
  char nested[200];         /* a trap from a nested (non-native) call */
} t_trap;

static void clear_trap(void) {
  t_trap.func = t_trap.offset = UINT32_MAX;
  t_trap.pc = 0;
  t_trap.host_inst = NULL;
  t_trap.nested[0] = 0;
}

static _Thread_local const char *t_stack_floor;
/* Entries into native code nested on this thread (host -> wasm -> ...),
 * limited as the interpreter limits its own (interp.c's MAX_NEST). */
static _Thread_local uint32_t t_nest;
#define AOT_MAX_NEST 512

__attribute__((noreturn)) static void rt_trap(wagi_aot_ctx *c, int status, uint32_t func,
                                              uint32_t offset) {
  if (status == WASM_TRAP_STACK_EXHAUSTED || (t_trap.host_inst && func == UINT32_MAX))
    call_location(((wasm_instance *)c->inst)->module, &func, &offset);
  t_trap.func = func;
  t_trap.offset = offset;
  siglongjmp(wasmi_tls_trap_point->jb, status);
}

static wasm_instance *inst_of(wagi_aot_ctx *c) { return (wasm_instance *)c->inst; }

/* An instance's native-code state: the context generated code sees, then
 * what interrupting it needs. */
typedef struct {
  wagi_aot_ctx c;
  /* The thread running this instance's native code while `running` > 0
   * (entries nested on that thread count too). kill_lock keeps the thread
   * from leaving its last entry while an interrupter signals it. */
  pthread_t thread;
  _Atomic uint32_t running;
  atomic_flag kill_lock;
  wagi_aot_slot *globals[];
} aot_instance;

/* The instance whose native code the innermost native entry on this thread
 * runs (NULL: none). */
static _Thread_local wasm_instance *t_native_inst;
/* SIGURG was blocked on this thread to defer a self-interrupt (see
 * wasmi_aot_interrupt); the next outermost exit unblocks it. */
static _Thread_local volatile sig_atomic_t t_urg_blocked;

/* Calls a function value from native code: a host function directly, a
 * function of this instance through its entry, anything else through the
 * engine's invoke (a new trap point; its trap is passed on). */
static void call_func(wagi_aot_ctx *c, wasm_func *f, wasm_slot *slots) {
  wasm_instance *inst = inst_of(c);
  if (!f->code && f->host) {
    wasm_status st = f->host(inst, f->host_env, slots);
    if (st != WASM_OK) {
      t_trap.host_inst = inst;
      rt_trap(c, st, UINT32_MAX, UINT32_MAX);
    }
    if (atomic_load_explicit(&inst->interrupted, memory_order_relaxed))
      rt_trap(c, WASM_TRAP_INTERRUPTED, UINT32_MAX, UINT32_MAX);
    return;
  }
  if (f->inst == inst && inst->aot_ctx) {
    const wasm_module *m = inst->module;
    m->aot->desc->entries[f->index - m->nfunc_imports](c, slots);
    return;
  }
  wasm_error e;
  e.msg[0] = 0;
  wasm_status st = wasmi_interp_invoke(f, slots, &e);
  if (st != WASM_OK) {
    snprintf(t_trap.nested, sizeof t_trap.nested, "%.*s", (int)sizeof t_trap.nested - 1, e.msg);
    if (st == WASM_TRAP_EXIT) inst->exit_code = e.exit_code;
    rt_trap(c, st, UINT32_MAX, UINT32_MAX);
  }
}

static void rt_call(wagi_aot_ctx *c, uint32_t func, wagi_aot_slot *slots) {
  call_func(c, inst_of(c)->funcs[func], slots);
}

static void rt_call_indirect(wagi_aot_ctx *c, uint32_t table, uint32_t type, uint32_t elem,
                             wagi_aot_slot *slots, uint32_t func, uint32_t offset) {
  wasm_instance *inst = inst_of(c);
  wasm_table *t = inst->tables[table];
  if (elem >= t->size) rt_trap(c, WASM_TRAP_UNDEFINED_ELEM, func, offset);
  wasm_func *g = t->elems[elem];
  if (!g) rt_trap(c, WASM_TRAP_UNINIT_ELEM, func, offset);
  const wasm_functype *want = inst->types[type];
  if (g->type != want && !wasm_functype_equal(g->type, want))
    rt_trap(c, WASM_TRAP_INDIRECT_TYPE, func, offset);
  call_func(c, g, slots);
}

static uint32_t rt_memory_size(wagi_aot_ctx *c) {
  wasm_instance *inst = inst_of(c);
  return inst->memory ? (uint32_t)(wasm_memory_size(inst->memory) / WASM_PAGE_SIZE) : 0;
}

static uint32_t rt_memory_grow(wagi_aot_ctx *c, uint32_t delta) {
  wasm_instance *inst = inst_of(c);
  int64_t r = inst->memory ? wasm_memory_grow(inst->memory, delta) : -1;
  return r < 0 ? UINT32_MAX : (uint32_t)r;
}

static int rt_memory_init(wagi_aot_ctx *c, uint32_t seg, uint32_t d, uint32_t s, uint32_t n) {
  return wasmi_op_memory_init(inst_of(c), seg, d, s, n);
}
static void rt_data_drop(wagi_aot_ctx *c, uint32_t seg) { inst_of(c)->data_dropped[seg] = 1; }
static int rt_memory_copy(wagi_aot_ctx *c, uint32_t d, uint32_t s, uint32_t n) {
  return wasmi_op_memory_copy(inst_of(c), d, s, n);
}
static int rt_memory_fill(wagi_aot_ctx *c, uint32_t d, uint32_t v, uint32_t n) {
  return wasmi_op_memory_fill(inst_of(c), d, v, n);
}
static int rt_table_init(wagi_aot_ctx *c, uint32_t tab, uint32_t seg, uint32_t d, uint32_t s,
                         uint32_t n) {
  return wasmi_op_table_init(inst_of(c), tab, seg, d, s, n);
}
static void rt_elem_drop(wagi_aot_ctx *c, uint32_t seg) { inst_of(c)->elem_dropped[seg] = 1; }
static int rt_table_copy(wagi_aot_ctx *c, uint32_t dt, uint32_t st, uint32_t d, uint32_t s,
                         uint32_t n) {
  return wasmi_op_table_copy(inst_of(c), dt, st, d, s, n);
}
static uint32_t rt_table_grow(wagi_aot_ctx *c, uint32_t tab, void *init, uint32_t n) {
  int64_t r = wasmi_table_grow(inst_of(c)->tables[tab], n, init);
  return r < 0 ? UINT32_MAX : (uint32_t)r;
}
static uint32_t rt_table_size(wagi_aot_ctx *c, uint32_t tab) {
  return inst_of(c)->tables[tab]->size;
}
static int rt_table_fill(wagi_aot_ctx *c, uint32_t tab, uint32_t i, void *v, uint32_t n) {
  return wasmi_op_table_fill(inst_of(c), tab, i, v, n);
}
static int rt_table_get(wagi_aot_ctx *c, uint32_t tab, uint32_t i, void **out) {
  wasm_table *t = inst_of(c)->tables[tab];
  if (i >= t->size) return WASM_TRAP_TABLE_OOB;
  *out = t->elems[i];
  return WASM_OK;
}
static int rt_table_set(wagi_aot_ctx *c, uint32_t tab, uint32_t i, void *v) {
  wasm_table *t = inst_of(c)->tables[tab];
  if (i >= t->size) return WASM_TRAP_TABLE_OOB;
  t->elems[i] = v;
  return WASM_OK;
}
static void *rt_ref_func(wagi_aot_ctx *c, uint32_t func) { return inst_of(c)->funcs[func]; }

/* A stack overflow is reported at the caller's call, as on the interpreter
 * (rt_trap finds it up the native stack). */
static void rt_enter_check(wagi_aot_ctx *c, uint32_t depth, uint32_t func, const void *frame) {
  if (depth == 0) rt_trap(c, WASM_TRAP_STACK_EXHAUSTED, func, UINT32_MAX);
  if (atomic_load(&inst_of(c)->interrupted)) rt_trap(c, WASM_TRAP_INTERRUPTED, func, UINT32_MAX);
  /* limit was UINTPTR_MAX and the interrupt has been cleared since: go on */
  if ((uintptr_t)frame < atomic_load_explicit(&c->floor_, memory_order_relaxed))
    rt_trap(c, WASM_TRAP_STACK_EXHAUSTED, func, UINT32_MAX);
}

static const wagi_aot_rt g_rt = {
    .trap = rt_trap,
    .call = rt_call,
    .call_indirect = rt_call_indirect,
    .memory_size = rt_memory_size,
    .memory_grow = rt_memory_grow,
    .memory_init = rt_memory_init,
    .data_drop = rt_data_drop,
    .memory_copy = rt_memory_copy,
    .memory_fill = rt_memory_fill,
    .table_init = rt_table_init,
    .elem_drop = rt_elem_drop,
    .table_copy = rt_table_copy,
    .table_grow = rt_table_grow,
    .table_size = rt_table_size,
    .table_fill = rt_table_fill,
    .table_get = rt_table_get,
    .table_set = rt_table_set,
    .ref_func = rt_ref_func,
    .enter_check = rt_enter_check,
};

/* ---- instances ----------------------------------------------------------- */

wasm_status wasmi_aot_instance_init(wasm_instance *inst, wasm_error *err) {
  const wasm_module *m = inst->module;
  if (!m->aot) return WASM_OK;
  size_t n = m->nglobals ? m->nglobals : 1;
  aot_instance *a = calloc(1, sizeof *a + n * sizeof(wagi_aot_slot *));
  if (!a)
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX,
                           "out of memory for the native code's context");
  atomic_init(&a->running, 0);
  atomic_flag_clear(&a->kill_lock);
  wagi_aot_ctx *c = &a->c;
  wagi_aot_slot **globals = a->globals;
  for (uint32_t g = 0; g < m->nglobals; g++) globals[g] = inst->globals[g]->val;
  c->mem = inst->mem_base;
  c->globals = globals;
  atomic_init(&c->limit, 0);
  atomic_init(&c->floor_, 0);
  c->rt = &g_rt;
  c->inst = inst;
  inst->aot_ctx = c;
  return WASM_OK;
}

/* Async-signal-safe, like wasm_instance_interrupt. seq_cst against
 * wasmi_aot_invoke's store of the floor then load of the flag: whichever
 * runs second leaves limit at UINTPTR_MAX while the flag is set. */
void wasmi_aot_interrupt(wasm_instance *inst, bool on) {
  wagi_aot_ctx *c = inst->aot_ctx;
  if (!c) return;
  if (!on) {
    atomic_store(&c->limit, atomic_load_explicit(&c->floor_, memory_order_relaxed));
    return;
  }
  atomic_store(&c->limit, UINTPTR_MAX);
  /* Loops that never leave generated code do not poll (aot_gen.c): a
   * signal reaches them there. If the lock is taken, the thread is leaving
   * its last entry, or another interrupter is signalling it. */
  aot_instance *a = (aot_instance *)c;
  if (!atomic_load(&a->running) || atomic_flag_test_and_set(&a->kill_lock)) return;
  if (atomic_load(&a->running)) {
    if (!pthread_equal(a->thread, pthread_self())) {
      pthread_kill(a->thread, SIGURG);
    } else {
      /* Called on the thread that runs the instance: from a signal handler
       * that interrupted its code (or from a host function). Block SIGURG
       * and raise it: it arrives when the handler returns and restores the
       * mask, where the instance's code was running. */
      sigset_t urg;
      sigemptyset(&urg);
      sigaddset(&urg, SIGURG);
      t_urg_blocked = 1;
      pthread_sigmask(SIG_BLOCK, &urg, NULL);
      pthread_kill(a->thread, SIGURG);
    }
  }
  atomic_flag_clear(&a->kill_lock);
}

/* ---- the interrupt signal ---------------------------------------------------- */

static struct sigaction prev_urg;

static uintptr_t interrupted_pc(const void *uctx) {
  const ucontext_t *uc = uctx;
#if defined(__x86_64__)
  return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
  return (uintptr_t)uc->uc_mcontext.pc;
#else
  (void)uc;
  return 0;
#endif
}

/* SIGURG: if this thread was running an interrupted instance's generated
 * code (not a host function, the runtime or libc: those return through a
 * check), the code is left at once as by a trap. SIGURG is otherwise
 * ignored by default; a handler someone else installed is chained to. */
static void on_interrupt_signal(int sig, siginfo_t *info, void *uctx) {
  wasm_instance *inst = t_native_inst;
  if (inst && atomic_load_explicit(&inst->interrupted, memory_order_relaxed) &&
      wasmi_tls_trap_point) {
    const wasmi_aot_code *code = inst->module->aot;
    uintptr_t pc = interrupted_pc(uctx);
    if (pc >= code->text_lo && pc < code->text_hi) {
      t_trap.func = t_trap.offset = UINT32_MAX;
      t_trap.pc = pc;
      siglongjmp(wasmi_tls_trap_point->jb, WASM_TRAP_INTERRUPTED);
    }
  }
  if (prev_urg.sa_flags & SA_SIGINFO) {
    if ((void *)prev_urg.sa_sigaction != (void *)on_interrupt_signal)
      prev_urg.sa_sigaction(sig, info, uctx);
  } else if (prev_urg.sa_handler != SIG_DFL && prev_urg.sa_handler != SIG_IGN) {
    prev_urg.sa_handler(sig);
  }
}

static void install_interrupt_signal(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_interrupt_signal;
  /* SA_NODEFER: left by siglongjmp to a sigsetjmp(jb, 0) point, which does
   * not restore the mask. SA_RESTART: host calls that the signal happens to
   * hit carry on. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGURG, &sa, &prev_urg);
}
static pthread_once_t interrupt_signal_once = PTHREAD_ONCE_INIT;

void wasmi_aot_instance_free(wasm_instance *inst) {
  free(inst->aot_ctx);
  inst->aot_ctx = NULL;
}

/* The lowest address this thread's frames may use, with a margin for the
 * engine's own frames and signal delivery. */
static const char *stack_floor(void) {
  if (t_stack_floor) return t_stack_floor;
  pthread_attr_t a;
  void *lo = NULL;
  size_t size = 0;
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (pthread_getattr_np(pthread_self(), &a) == 0) {
    pthread_attr_getstack(&a, &lo, &size);
    pthread_attr_destroy(&a);
  }
  const size_t margin = (size_t)256 << 10;
  if (!lo || size <= 2 * margin) /* unknown: allow 1 MiB below here */
    t_stack_floor = (const char *)(here - ((uintptr_t)1 << 20));
  else t_stack_floor = (const char *)lo + margin;
  return t_stack_floor;
}

/* The end of an entry into a's code on this thread. */
static void leave_instance(aot_instance *a) {
  if (atomic_load_explicit(&a->running, memory_order_relaxed) == 1) {
    while (atomic_flag_test_and_set(&a->kill_lock)) sched_yield();
    atomic_fetch_sub(&a->running, 1);
    atomic_flag_clear(&a->kill_lock);
  } else {
    atomic_fetch_sub(&a->running, 1);
  }
  if (t_urg_blocked && !t_native_inst) {
    /* a deferred self-interrupt is delivered now, harmlessly */
    t_urg_blocked = 0;
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_sigmask(SIG_UNBLOCK, &urg, NULL);
  }
}

wasm_status wasmi_aot_invoke(wasm_func *f, wasm_slot *slots, wasm_error *err) {
  wasm_instance *inst = f->inst;
  wagi_aot_ctx *c = inst->aot_ctx;
  const wasm_module *m = inst->module;
  wasmi_trap_thread_init();
  pthread_once(&interrupt_signal_once, install_interrupt_signal);
  aot_instance *a = (aot_instance *)c;
  char label[128];
  /* running before the flag is read (wasmi_aot_interrupt: the flag before
   * running), so an interrupt either is seen here or signals this thread */
  if (atomic_load_explicit(&a->running, memory_order_relaxed) == 0) a->thread = pthread_self();
  atomic_fetch_add(&a->running, 1);
  if (atomic_load(&inst->interrupted)) {
    leave_instance(a);
    wasmi_func_label(m, f->index, label, sizeof label);
    return wasmi_error_set(err, WASM_TRAP_INTERRUPTED, f->index, UINT32_MAX, "trap: %s in %s",
                           wasm_status_str(WASM_TRAP_INTERRUPTED), label);
  }
  /* As on the interpreter: every entry (nested ones too: host -> wasm)
   * gets the whole call-depth budget, and a thread nests at most
   * AOT_MAX_NEST entries. An entry hands its function depth - 1, and a
   * function whose budget is 0 traps: + 2 stops at the interpreter's
   * depth. */
  if (t_nest >= AOT_MAX_NEST) {
    leave_instance(a);
    wasmi_func_label(m, f->index, label, sizeof label);
    return wasmi_error_set(err, WASM_TRAP_STACK_EXHAUSTED, f->index, UINT32_MAX, "trap: %s in %s",
                           wasm_status_str(WASM_TRAP_STACK_EXHAUSTED), label);
  }
  uint32_t saved_depth = c->depth;
  c->depth = inst->opts.max_call_depth + 2;
  c->nest_++;
  t_nest++;
  uintptr_t floor = (uintptr_t)stack_floor();
  atomic_store_explicit(&c->floor_, floor, memory_order_relaxed);
  atomic_store(&c->limit, floor);
  if (atomic_load(&inst->interrupted)) atomic_store(&c->limit, UINTPTR_MAX);
  wasm_instance *outer_native = t_native_inst;
  t_native_inst = inst;
  wasm_trap_point tp;
  wasmi_trap_point_init(&tp, inst);
  clear_trap();
  wasmi_tls_trap_point = &tp;
  wasm_status st = WASM_OK;
  /* No signal mask save: see wasmi_interp_invoke. */
  int sig = sigsetjmp(tp.jb, 0);
  if (sig == 0) m->aot->desc->entries[f->index - m->nfunc_imports](c, slots);
  else st = (wasm_status)sig;
  wasmi_tls_trap_point = tp.prev;
  t_native_inst = outer_native;
  c->nest_--;
  t_nest--;
  c->depth = saved_depth;
  leave_instance(a);
  if (st == WASM_OK) return WASM_OK;
  /* the message the interpreter would give */
  const char *detail = "";
  if (t_trap.host_inst) {
    detail = t_trap.host_inst->trap_msg;
    if (err) err->exit_code = t_trap.host_inst->exit_code;
  } else if (t_trap.nested[0]) {
    detail = t_trap.nested;
  }
  if (st == WASM_TRAP_EXIT && err && !t_trap.host_inst) err->exit_code = inst->exit_code;
  if (t_trap.func == UINT32_MAX && !detail[0]) {
    if (st == WASM_TRAP_MEM_OOB) {
      fault_location(m, tp.fault_pc, &t_trap.func, &t_trap.offset);
    } else if (t_trap.pc) {
      /* interrupted by the signal: the function it found running */
      uint32_t off_ = UINT32_MAX;
      fault_location(m, (const void *)t_trap.pc, &t_trap.func, &off_);
      if (t_trap.func == UINT32_MAX) t_trap.func = f->index;
    }
  }
  char where[64] = "";
  label[0] = 0;
  if (t_trap.func != UINT32_MAX) wasmi_func_label(m, t_trap.func, label, sizeof label);
  if (t_trap.offset != UINT32_MAX) snprintf(where, sizeof where, " at 0x%x", t_trap.offset);
  int32_t code = err ? err->exit_code : 0;
  wasmi_error_set(err, st, t_trap.func, t_trap.offset, "trap: %s%s%s%s%s%s", wasm_status_str(st),
                  detail[0] ? ": " : "", detail, label[0] ? " in " : "", label, where);
  if (err) err->exit_code = code;
  /* An enclosing native entry on this thread is still running, so it has
   * not trapped: without this its next fault would be named with this
   * trap's place or message (a host function that catches a nested trap). */
  clear_trap();
  return st;
}

/* ---- loading a .wasmc ------------------------------------------------------ */

void wasmi_aot_code_free(wasmi_aot_code *code) {
  if (!code) return;
  if (code->handle) dlclose(code->handle);
  if (code->fd >= 0) close(code->fd);
  free(code->map);
  free(code);
}

int wasm_is_native(const uint8_t *bytes, size_t len) {
  /* any ELF file: wasm_module_load_native then says what is wrong with it */
  return bytes && len >= 4 && !memcmp(bytes, "\177ELF", 4);
}

int wasm_module_is_native(const wasm_module *m) { return m && m->aot; }

void wasm_module_digest(const wasm_module *m, uint8_t out[32]) {
  base_sha256(m->bytes, m->len, out);
}

static wasm_status load_fail(wasm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static wasm_status load_fail(wasm_error *err, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return wasmi_error_set(err, WASM_ERR_MALFORMED, UINT32_MAX, UINT32_MAX, "not a usable .wasmc: %s",
                         msg);
}

typedef struct {
  const struct link_map *lm;
  wasmi_aot_code *code;
} text_search;

static int text_of_object(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  text_search *ts = arg;
  if (info->dlpi_addr != ts->lm->l_addr || !info->dlpi_name ||
      strcmp(info->dlpi_name, ts->lm->l_name))
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (!ts->code->text_lo || lo < ts->code->text_lo) ts->code->text_lo = lo;
    if (hi > ts->code->text_hi) ts->code->text_hi = hi;
  }
  return 1;
}

/* The executable range of the loaded code: the interrupt signal's test of
 * "running generated code" (loops that never leave it do not poll). */
static void find_text(void *handle, wasmi_aot_code *code) {
  struct link_map *lm = NULL;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm) return;
  text_search ts = {lm, code};
  dl_iterate_phdr(text_of_object, &ts);
}

wasm_status wasm_module_load_native(const uint8_t *bytes, size_t len, wasm_module **out,
                                    wasm_error *err) {
  if (!bytes || !out) return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "no input");
  if (len < TRAILER_SIZE + 4 || memcmp(bytes, "\177ELF", 4))
    return load_fail(err,
                     "it is not an ELF shared object (truncated, or not made by wagi compile)");
  trailer t;
  memcpy(&t, bytes + len - TRAILER_SIZE, sizeof t);
  if (!memcmp(t.magic, TRAILER_MAGIC_V1, 8))
    return load_fail(err,
                     "it was made by an older wagi (.wasmc format 1, no trap locations): compile "
                     "the module again (wagi compile)");
  if (memcmp(t.magic, TRAILER_MAGIC, 8) || t.size != TRAILER_SIZE)
    return load_fail(err, "it has no wagi trailer (truncated, or not made by wagi compile)");
  t.compiler[sizeof t.compiler - 1] = 0;
  t.target[sizeof t.target - 1] = 0;
  if (t.abi != WAGI_AOT_ABI)
    return load_fail(err,
                     "it was made for native-code ABI %u and this wagi uses %u: compile the "
                     "module again (wagi compile)",
                     t.abi, WAGI_AOT_ABI);
  char why[300];
  if (wasmi_aot_target_check(t.target, wasmi_host_cpu_level(), why, sizeof why))
    return load_fail(err, "%s", why);
  if (t.elf_len > len - TRAILER_SIZE || t.map_len != len - TRAILER_SIZE - t.elf_len ||
      t.map_len % 8)
    return load_fail(err, "its size does not match its trailer (truncated or extended)");
  uint8_t h[32];
  base_sha256(bytes, (size_t)(t.elf_len + t.map_len), h);
  if (memcmp(h, t.code_sha256, 32))
    return load_fail(err, "its code does not match the digest in its trailer (modified?)");
  size_t nmap = (size_t)t.map_len / 8;
  uint32_t *map = nmap ? malloc((size_t)t.map_len) : NULL;
  if (nmap && !map)
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX, "out of memory");
  if (nmap) memcpy(map, bytes + t.elf_len, (size_t)t.map_len);
  for (size_t i = 1; i < nmap; i++)
    if (map[2 * i] <= map[2 * i - 2]) {
      free(map);
      return load_fail(err, "its trap map is not in address order");
    }

  /* map the checked bytes, not the file again */
  int fd = memfd_create("wagi-aot", MFD_CLOEXEC);
  if (fd < 0) {
    free(map);
    return load_fail(err, "memfd_create: %s", strerror(errno));
  }
  if (base_write_all(fd, bytes, (size_t)t.elf_len) < 0) {
    free(map);
    close(fd);
    return load_fail(err, "writing the code to memory: %s", strerror(errno));
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    free(map);
    close(fd);
    return load_fail(err, "the code cannot be loaded: %s", dlerror());
  }
  const wagi_aot_module *desc = dlsym(handle, AOT_SYMBOL_NAME);
  const unsigned char *wasm = dlsym(handle, "wagi_aot_wasm");
  const unsigned long *wasm_len = dlsym(handle, "wagi_aot_wasm_len");
  wasm_status st = WASM_OK;
  if (!desc || !wasm || !wasm_len) st = load_fail(err, "the code lacks the wagi descriptor");
  else if (desc->abi != WAGI_AOT_ABI)
    st = load_fail(err, "the code was generated for ABI %u, not %u", desc->abi, WAGI_AOT_ABI);
  if (!st) {
    base_sha256(wasm, *wasm_len, h);
    if (memcmp(h, desc->sha256, 32) || memcmp(h, t.module_sha256, 32))
      st = load_fail(err, "the embedded module does not match the recorded digest");
  }
  struct link_map *lm = NULL;
  if (!st && (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm))
    st = load_fail(err, "the code's load address is unknown: %s", dlerror());
  wasm_module *m = NULL;
  if (!st) st = wasm_module_compile(wasm, *wasm_len, &m, err);
  if (!st && desc->nfuncs != m->nfuncs - m->nfunc_imports)
    st = load_fail(err, "the code has %u functions, the module %u", desc->nfuncs,
                   m->nfuncs - m->nfunc_imports);
  if (!st && !(m->aot = calloc(1, sizeof *m->aot)))
    st = wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX, "out of memory");
  if (st) {
    free(map);
    wasm_module_free(m);
    dlclose(handle);
    close(fd);
    return st;
  }
  m->aot->handle = handle;
  m->aot->desc = desc;
  m->aot->fd = fd;
  m->aot->map = map;
  m->aot->nmap = nmap;
  m->aot->base = (uintptr_t)lm->l_addr;
  find_text(handle, m->aot);
  if (!m->aot->text_hi) {
    wasm_module_free(m); /* frees m->aot: the handle, the fd, the map */
    return load_fail(err, "the loaded code's executable range cannot be found");
  }
  *out = m;
  return WASM_OK;
}

/* ---- the trap map ------------------------------------------------------------ */

/* One row of the compiler's line table. */
typedef struct {
  uint64_t addr;
  uint32_t line;  /* aot_gen.c's marker; 0: none */
  uint32_t order; /* ends of sequences first at an address, then table order */
  bool other;     /* in another file (a header's inline function): see inline_site */
} map_row;

/* A call of an inline function (simd_ops.h's, SIMDe's) written in "wasm". */
typedef struct {
  uint64_t lo, hi;
  uint32_t line, depth;
} inline_site;

typedef struct {
  map_row *rows;
  size_t nrows, caprows;
  inline_site *sites;
  size_t nsites, capsites;
  bool oom;
} map_build;

static bool is_marker_file(const char *f) {
  const char *b = f ? strrchr(f, '/') : NULL;
  b = b ? b + 1 : f;
  return b && !strcmp(b, "wasm");
}

static void *grow_array(void *p, size_t *cap, size_t need, size_t elem, bool *oom) {
  if (need <= *cap) return p;
  size_t n = *cap ? *cap * 2 : 256;
  while (n < need) n *= 2;
  void *q = realloc(p, n * elem);
  if (!q) {
    *oom = true;
    return p;
  }
  *cap = n;
  return q;
}

/* The inline call sites in "wasm" under die (clang's line table gives an
 * inlined function's own lines, and these say where it was called; gcc at
 * -g1 gives the call's line itself). */
static void collect_sites(map_build *b, Dwarf_Die *die, Dwarf_Files *files, uint32_t depth) {
  Dwarf_Die child;
  if (depth > 64 || dwarf_child(die, &child) != 0) return;
  do {
    if (dwarf_tag(&child) == DW_TAG_inlined_subroutine) {
      Dwarf_Attribute at;
      Dwarf_Word file = 0, line = 0;
      if (files && dwarf_formudata(dwarf_attr(&child, DW_AT_call_file, &at), &file) == 0 &&
          dwarf_formudata(dwarf_attr(&child, DW_AT_call_line, &at), &line) == 0 &&
          is_marker_file(dwarf_filesrc(files, file, NULL, NULL)) && line <= UINT32_MAX) {
        Dwarf_Addr base, lo, hi;
        for (ptrdiff_t o = 0; (o = dwarf_ranges(&child, o, &base, &lo, &hi)) > 0;) {
          b->sites = grow_array(b->sites, &b->capsites, b->nsites + 1, sizeof *b->sites, &b->oom);
          if (b->oom) return;
          b->sites[b->nsites++] = (inline_site){lo, hi, (uint32_t)line, depth};
        }
      }
    }
    collect_sites(b, &child, files, depth + 1);
  } while (dwarf_siblingof(&child, &child) == 0);
}

static int cmp_rows(const void *x, const void *y) {
  const map_row *a = x, *b = y;
  if (a->addr != b->addr) return a->addr < b->addr ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

static int cmp_sites(const void *x, const void *y) {
  const inline_site *a = x, *b = y;
  return a->depth < b->depth ? -1 : a->depth > b->depth;
}

/* The trap map of a compiled module (path: the shared object with its line
 * table): pairs (address, marker) where the marker changes, by address.
 * *out = NULL, *n = 0 when the compiler wrote no line table (--cflags -g0):
 * traps then name no location. Returns -1 only when out of memory. */
static int read_trap_map(const char *path, uint32_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
  if (!dw) {
    close(fd);
    return 0;
  }
  map_build b = {0};
  uint32_t order = 0;
  Dwarf_Off off = 0, next;
  size_t hsize;
  while (!b.oom && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
    Dwarf_Die cu;
    Dwarf_Lines *lines;
    size_t nl;
    if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_getsrclines(&cu, &lines, &nl) == 0) {
      for (size_t i = 0; i < nl && !b.oom; i++) {
        Dwarf_Line *l = dwarf_onesrcline(lines, i);
        Dwarf_Addr a;
        int ln = 0;
        bool end = false;
        if (!l || dwarf_lineaddr(l, &a) || dwarf_lineno(l, &ln) || dwarf_lineendsequence(l, &end))
          continue;
        b.rows = grow_array(b.rows, &b.caprows, b.nrows + 1, sizeof *b.rows, &b.oom);
        if (b.oom) break;
        bool mine = !end && is_marker_file(dwarf_linesrc(l, NULL, NULL));
        b.rows[b.nrows++] =
            (map_row){a, mine && ln > 0 ? (uint32_t)ln : 0, end ? 0 : ++order, !end && !mine};
      }
      Dwarf_Files *files = NULL;
      size_t nfiles;
      if (dwarf_getsrcfiles(&cu, &files, &nfiles) != 0) files = NULL;
      collect_sites(&b, &cu, files, 0);
    }
    off = next;
  }
  dwarf_end(dw);
  close(fd);
  if (!b.oom && b.nrows) {
    qsort(b.rows, b.nrows, sizeof *b.rows, cmp_rows);
    /* rows of inline functions take the line of their call in "wasm",
     * the innermost call's (sites painted outermost first) */
    if (b.nsites) qsort(b.sites, b.nsites, sizeof *b.sites, cmp_sites);
    for (size_t s = 0; s < b.nsites; s++) {
      size_t lo = 0, hi = b.nrows;
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b.rows[mid].addr < b.sites[s].lo) lo = mid + 1;
        else hi = mid;
      }
      for (size_t r = lo; r < b.nrows && b.rows[r].addr < b.sites[s].hi; r++)
        if (b.rows[r].other) b.rows[r].line = b.sites[s].line;
    }
    uint32_t *map = malloc(b.nrows * 2 * sizeof *map);
    size_t k = 0;
    if (!map) b.oom = true;
    for (size_t r = 0; map && r < b.nrows; r++) {
      if (b.rows[r].addr > UINT32_MAX) break;
      uint32_t a = (uint32_t)b.rows[r].addr, line = b.rows[r].line;
      if (k && map[2 * (k - 1)] == a) k--; /* the last row at an address holds */
      if (k && map[2 * (k - 1) + 1] == line) continue;
      map[2 * k] = a;
      map[2 * k + 1] = line;
      k++;
    }
    *out = map;
    *n = k;
  }
  free(b.rows);
  free(b.sites);
  return b.oom ? -1 : 0;
}

/* ---- compiling a .wasmc ------------------------------------------------------ */

static int write_file(const char *dir, const char *name, const void *data, size_t n) {
  char path[4200];
  snprintf(path, sizeof path, "%.4095s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  int rc = base_write_all(fd, data, n);
  if (close(fd) < 0) rc = -1;
  return rc;
}

/* A whole file the compiler wrote (code, messages), or NULL. */
static uint8_t *read_whole(const char *path, size_t *len) {
  uint8_t *buf = NULL;
  char err[8];
  return base_read_file(path, (size_t)1 << 31, BASE_FILE_REGULAR_ONLY, &buf, len, err,
                        sizeof err) == BASE_FILE_OK
             ? buf
             : NULL;
}

#define TOOL_CANCELLED (-2)

/* Runs argv with stdout+stderr into log_path; returns the exit status, -1
 * (it could not run, or died of a signal) or TOOL_CANCELLED. The child
 * starts with no signals blocked (an embedder such as the server blocks
 * SIGINT/SIGTERM in every thread, and the mask would be inherited). With
 * o->cancelled, the child leads a process group of its own, which is
 * killed whole (cc and its cc1/as/ld) once o->cancelled says so. */
static int run_tool(char *const argv[], const char *log_path, const wasm_native_options *o) {
  bool cancellable = o && o->cancelled;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&at, &none);
  short flags = POSIX_SPAWN_SETSIGMASK;
  if (cancellable) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&at, 0);
  }
  posix_spawnattr_setflags(&at, flags);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (rc) return -1;
  int status;
  bool killed = false;
  for (;;) {
    pid_t w = waitpid(pid, &status, cancellable && !killed ? WNOHANG : 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return -1;
    if (w == 0) {
      if (o->cancelled(o->cancel_arg)) {
        kill(-pid, SIGKILL);
        killed = true;
      } else {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
      }
    }
  }
  if (killed) return TOOL_CANCELLED;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last `n` lines of a file, on one line, into out. */
static void tail_lines(const char *path, int n, char *out, size_t cap) {
  size_t len = 0;
  uint8_t *b = read_whole(path, &len);
  out[0] = 0;
  if (!b) return;
  size_t start = len;
  for (int k = 0; start > 0 && k <= n; start--)
    if (b[start - 1] == '\n' && start != len) k++;
  size_t o = 0;
  for (size_t i = start; i < len && o + 1 < cap; i++) out[o++] = b[i] == '\n' ? ' ' : (char)b[i];
  out[o] = 0;
  free(b);
}

static void remove_dir(const char *dir) {
  static const char *const names[] = {"module.c",   "aot_abi.h", "numops.h",
                                      "simd_ops.h", "module.so", "cc.log"};
  char path[4200];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%.4095s/%s", dir, names[i]);
    (void)unlink(path);
  }
  (void)rmdir(dir);
}

/* First line of `cc --version` into out ("" when it cannot run). */
static int compiler_version(const char *cc, char *out, size_t cap) {
  const char *tmp = getenv("TMPDIR");
  char path[4200];
  snprintf(path, sizeof path, "%s/wagi-ccver-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  close(fd);
  char *argv[] = {(char *)cc, "--version", NULL};
  int rc = run_tool(argv, path, NULL);
  size_t vl = 0;
  uint8_t *v = rc == 0 ? read_whole(path, &vl) : NULL;
  unlink(path);
  out[0] = 0;
  if (!v) return -1;
  size_t n = 0;
  while (n < vl && n < cap - 1 && v[n] != '\n') n++;
  memcpy(out, v, n);
  out[n] = 0;
  free(v);
  return 0;
}

int wasm_native_cache_name(const wasm_module *m, const wasm_native_options *o, char *out,
                           size_t cap, char *err, size_t errlen) {
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  static char last_key[600], last_id[17];
  const char *cc = o && o->cc && *o->cc ? o->cc : "cc";
  char flags[400];
  snprintf(flags, sizeof flags, "%s%s", o && o->cflags ? o->cflags : "",
           o && o->strict_loads ? " [strict-loads]" : "");
  int level = build_level(o, err, errlen);
  if (level < 0) return -1;
  char key[600];
  snprintf(key, sizeof key, "%s\n%s\n%d", cc, flags, level);
  char id[17] = "";
  pthread_mutex_lock(&mu);
  if (!strcmp(key, last_key)) memcpy(id, last_id, sizeof id);
  pthread_mutex_unlock(&mu);
  if (!id[0]) {
    char version[256];
    if (compiler_version(cc, version, sizeof version) != 0 || !version[0]) {
      snprintf(err, errlen, "cannot run the C compiler \"%s\" (%s --version failed)", cc, cc);
      return -1;
    }
    char text[900];
    /* the fixed flags and the translator (WAGI_AOT_GEN_ID, from the Makefile)
     * are part of the identity too */
    snprintf(text, sizeof text,
             "%s\n%s\n" AOT_OPT_TEXT " -ffp-contract=off -g1 trap-map " WAGI_AOT_GEN_ID " cpu %s",
             version, flags, wasmi_cpu_level_name(level));
    uint8_t h[32];
    base_sha256(text, strlen(text), h);
    for (int i = 0; i < 8; i++) snprintf(id + 2 * i, 3, "%02x", h[i]);
    pthread_mutex_lock(&mu);
    snprintf(last_key, sizeof last_key, "%s", key);
    memcpy(last_id, id, sizeof id);
    pthread_mutex_unlock(&mu);
  }
  uint8_t d[32];
  char hex[65];
  base_sha256(m->bytes, m->len, d);
  base_sha256_hex(d, hex);
  if ((size_t)snprintf(out, cap, "%s-abi%u-%s.wasmc", hex, WAGI_AOT_ABI, id) >= cap) {
    snprintf(err, errlen, "cache name too long");
    return -1;
  }
  return 0;
}

wasm_status wasm_module_compile_native(const wasm_module *m, const wasm_native_options *o,
                                       const char *out_path, wasm_error *err) {
  if (!m || !out_path)
    return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "no module or output");
  const char *cc = o && o->cc && *o->cc ? o->cc : "cc";
  const char *tmp = o && o->tmpdir ? o->tmpdir : getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = "/tmp";
  char why[200];
  int level = build_level(o, why, sizeof why);
  if (level < 0) return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "%s", why);
  char march[32] = "";
  if (level > 0) snprintf(march, sizeof march, "-march=%s", wasmi_cpu_level_name(level));
  uint8_t digest[32];
  base_sha256(m->bytes, m->len, digest);
  char *src = NULL;
  size_t src_len = 0;
  wasm_status st = wasmi_aot_generate(m, digest, o && o->strict_loads, &src, &src_len, err);
  if (st) return st;

  char dir[4096];
  snprintf(dir, sizeof dir, "%s/wagi-aot-XXXXXX", tmp);
  if (!mkdtemp(dir)) {
    free(src);
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX,
                           "cannot make a work directory in %s: %s", tmp, strerror(errno));
  }
  char p_src[4200], p_so[4200], p_log[4200];
  snprintf(p_src, sizeof p_src, "%s/module.c", dir);
  snprintf(p_so, sizeof p_so, "%s/module.so", dir);
  snprintf(p_log, sizeof p_log, "%s/cc.log", dir);
  if (write_file(dir, "module.c", src, src_len) ||
      write_file(dir, "aot_abi.h", aot_abi_h, aot_abi_h_len) ||
      write_file(dir, "numops.h", numops_h, numops_h_len) ||
      write_file(dir, "simd_ops.h", simd_ops_h, simd_ops_h_len)) {
    free(src);
    remove_dir(dir);
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX, "cannot write to %s: %s",
                           dir, strerror(errno));
  }
  free(src);

  /* cc -O3 -fPIC -shared ... ; extra flags split on spaces */
  char *flags = o && o->cflags ? strdup(o->cflags) : NULL;
  char *argv[64];
  int argc = 0;
  char inc[4200];
  snprintf(inc, sizeof inc, "-I%s", dir);
  /* -ffp-contract=off: no fused multiply-add behind the module's back (with
   * --cflags -march=native gcc would fuse a*b+c, and the results would
   * differ from the interpreter's). -g1: the line table of the trap map
   * (clang reads it as -gline-tables-only); the machine code is the same
   * without it, and the debug sections are stripped once it is read. */
  const char *fixed[] = {
      cc,  AOT_OPT, "-fPIC", "-shared", "-fvisibility=hidden", "-ffp-contract=off", "-w", "-g1",
      inc, "-o",  p_so,    p_src};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[argc++] = (char *)fixed[i];
  if (march[0]) argv[argc++] = march; /* before --cflags, which may override it */
  for (char *tok = flags ? strtok(flags, " \t") : NULL; tok && argc < 60; tok = strtok(NULL, " \t"))
    argv[argc++] = tok;
  argv[argc++] = "-lm";
  argv[argc] = NULL;
  int rc = run_tool(argv, p_log, o);
  if (rc == TOOL_CANCELLED) {
    st = wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "%s: cancelled", cc);
    free(flags);
    remove_dir(dir);
    return st;
  }
  if (rc != 0) {
    char tail[300];
    tail_lines(p_log, 3, tail, sizeof tail);
    st = wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "%s failed (%s)%s%s", cc,
                         rc < 0 ? "could not run it" : "see its messages", tail[0] ? ": " : "",
                         tail);
    free(flags);
    remove_dir(dir);
    return st;
  }
  free(flags);

  /* the compiler's identity, for the trailer */
  char version[96];
  (void)compiler_version(cc, version, sizeof version);

  uint32_t *map = NULL;
  size_t nmap = 0;
  if (read_trap_map(p_so, &map, &nmap) != 0) {
    remove_dir(dir);
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX,
                           "out of memory: reading the compiled code's line table");
  }
  /* the line table is in the map now; without strip (binutils) the .wasmc
   * keeps it, and is only larger */
  char *strip_argv[] = {"strip", "--strip-debug", p_so, NULL};
  if (run_tool(strip_argv, p_log, o) == TOOL_CANCELLED) {
    free(map);
    remove_dir(dir);
    return wasmi_error_set(err, WASM_ERR_ARG, UINT32_MAX, UINT32_MAX, "%s: cancelled", cc);
  }

  size_t so_len = 0;
  uint8_t *so = read_whole(p_so, &so_len);
  remove_dir(dir);
  if (!so) {
    free(map);
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX,
                           "cannot read the compiled code");
  }
  /* the map goes right after the ELF part, under the same digest */
  size_t map_len = nmap * 2 * sizeof *map;
  uint8_t *all = realloc(so, so_len + map_len);
  if (!all) {
    free(so);
    free(map);
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX, "out of memory");
  }
  so = all;
  if (map_len) memcpy(so + so_len, map, map_len);
  free(map);
  trailer t;
  memset(&t, 0, sizeof t);
  memcpy(t.magic, TRAILER_MAGIC, 8);
  t.abi = WAGI_AOT_ABI;
  t.size = TRAILER_SIZE;
  memcpy(t.module_sha256, digest, 32);
  base_sha256(so, so_len + map_len, t.code_sha256);
  t.elf_len = so_len;
  t.map_len = map_len;
  snprintf(t.compiler, sizeof t.compiler, "%s", version[0] ? version : cc);
  target_for(level, t.target, sizeof t.target);

  char tmp_out[4200];
  snprintf(tmp_out, sizeof tmp_out, "%s.tmp.%ld", out_path, (long)getpid());
  int fd = open(tmp_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && !base_write_all(fd, so, so_len + map_len) &&
            !base_write_all(fd, &t, sizeof t) && !fsync(fd);
  int e = errno;
  if (fd >= 0 && close(fd) != 0 && ok) ok = false, e = errno;
  if (ok && rename(tmp_out, out_path) != 0) ok = false, e = errno;
  if (!ok) {
    unlink(tmp_out);
    free(so);
    return wasmi_error_set(err, WASM_ERR_NOMEM, UINT32_MAX, UINT32_MAX, "cannot write %s: %s",
                           out_path, strerror(e));
  }
  free(so);
  return WASM_OK;
}
