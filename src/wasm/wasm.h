/* wasm.h — the public embedding API of wagi-c's WebAssembly engine.
 *
 * Life cycle:  bytes --wasm_module_compile--> wasm_module (immutable, shareable
 * across threads) --wasm_instantiate(linker)--> wasm_instance (one thread at a
 * time) --wasm_func_call--> results or a trap.
 *
 * Ownership: the creator frees (x_new / x_compile pairs with x_free). Returned
 * pointers are borrowed until their owner is freed. `*out` is written only on
 * success. A compiled module keeps no pointer into the caller's bytes.
 * Memories, tables and globals are reference counted: an instance that imports
 * one keeps it alive. A wasm_func belongs to its instance: an instance whose
 * functions were linked into another instance (or stored in another's table)
 * must outlive it.
 */
#ifndef WAGI_WASM_H
#define WAGI_WASM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Results and errors ------------------------------------------------ */

typedef enum {
  WASM_OK = 0,
  /* Load / link / API errors. */
  WASM_ERR_MALFORMED, /* binary does not decode */
  WASM_ERR_INVALID,   /* decodes but fails validation */
  WASM_ERR_LINK,      /* unknown import or incompatible import type */
  WASM_ERR_NOMEM,     /* allocation or address-space reservation failed */
  WASM_ERR_NOT_FOUND, /* no export of that name / kind */
  WASM_ERR_ARG,       /* bad argument from the embedder (type/arity) */
  /* Traps: execution stopped; spec wording in wasm_status_str. */
  WASM_TRAP_UNREACHABLE,
  WASM_TRAP_MEM_OOB,
  WASM_TRAP_DIV_ZERO,
  WASM_TRAP_INT_OVERFLOW,
  WASM_TRAP_INVALID_CONVERSION,
  WASM_TRAP_TABLE_OOB,
  WASM_TRAP_UNDEFINED_ELEM, /* call_indirect index >= table size */
  WASM_TRAP_UNINIT_ELEM,    /* call_indirect through a null entry */
  WASM_TRAP_INDIRECT_TYPE,  /* call_indirect signature mismatch */
  WASM_TRAP_STACK_EXHAUSTED,
  WASM_TRAP_INTERRUPTED, /* wasm_instance_interrupt() from any thread */
  WASM_TRAP_EXIT,        /* host asked to end the instance (e.g. proc_exit) */
  WASM_TRAP_HOST,        /* a host function failed; see msg */
  WASM_STATUS_COUNT
} wasm_status;

/* Static text for a status, in the specification's wording for traps
 * ("integer divide by zero", "out of bounds memory access", ...). */
const char *wasm_status_str(wasm_status s);

/* 1 for the WASM_TRAP_* statuses. */
int wasm_status_is_trap(wasm_status s);

/* Details of a failure. `func` is a function index (UINT32_MAX if none),
 * `offset` a byte offset in the module binary (UINT32_MAX if unknown).
 * `msg` is a complete human-readable sentence, e.g.
 * "invalid: function 3 ($fib) at 0x1a2: type mismatch: expected i32, got f64". */
typedef struct {
  wasm_status status;
  uint32_t func;
  uint32_t offset;
  int32_t exit_code; /* with WASM_TRAP_EXIT */
  char msg[512];
} wasm_error;

/* ---- Values ------------------------------------------------------------ */

typedef enum {
  WASM_I32 = 0x7f,
  WASM_I64 = 0x7e,
  WASM_F32 = 0x7d,
  WASM_F64 = 0x7c,
  WASM_V128 = 0x7b,
  WASM_FUNCREF = 0x70,
  WASM_EXTERNREF = 0x6f,
} wasm_valtype;

/* "i32", "funcref", ... */
const char *wasm_valtype_str(wasm_valtype t);

typedef struct wasm_func wasm_func; /* a function value (funcref) */
typedef struct wasm_memory wasm_memory;
typedef struct wasm_table wasm_table;
typedef struct wasm_global wasm_global;
typedef struct wasm_module wasm_module;
typedef struct wasm_instance wasm_instance;
typedef struct wasm_linker wasm_linker;

/* A typed value. Floats are carried as bits so NaN payloads survive.
 * References: funcref is a wasm_func* (NULL = null); externref is an opaque
 * host pointer (NULL = null). */
typedef struct {
  wasm_valtype type;
  union {
    int32_t i32;
    int64_t i64;
    uint32_t f32_bits;
    uint64_t f64_bits;
    uint8_t v128[16];
    void *ref;
  } of;
} wasm_value;

/* Raw argument/result cell used by host functions: 8 bytes; i32/f32 live in
 * the low 32 bits (upper bits zero), i64/f64 in all 64, a reference is a
 * pointer cast to uintptr_t, a v128 takes two consecutive cells (low half
 * first, little-endian). */
typedef uint64_t wasm_slot;

/* ---- Modules ----------------------------------------------------------- */

typedef enum {
  WASM_EXTERN_FUNC = 0,
  WASM_EXTERN_TABLE = 1,
  WASM_EXTERN_MEMORY = 2,
  WASM_EXTERN_GLOBAL = 3,
} wasm_extern_kind;

/* The largest module binary the engine accepts (its code offsets are 32
 * bits); the CLI and the server refuse bigger files before reading them. */
#define WASM_MODULE_MAX_BYTES ((size_t)1 << 30)

/* Decode, validate and translate a module once. The result is immutable and
 * may be instantiated many times, concurrently, from any thread.
 * Returns WASM_ERR_MALFORMED / WASM_ERR_INVALID / WASM_ERR_NOMEM with
 * details in *err (err may be NULL). `bytes` are copied (the caller keeps
 * them); the caller owns *out and frees it with wasm_module_free. */
wasm_status wasm_module_compile(const uint8_t *bytes, size_t len, wasm_module **out,
                                wasm_error *err);
/* NULL is fine. Every instance of the module must be freed first (they
 * point into it). */
void wasm_module_free(wasm_module *m);

/* ---- Native code: the AOT tier ------------------------------------------
 * A module translated to C and compiled by the system C compiler into a
 * .wasmc file: an ELF shared object followed by a trailer that records the
 * module's SHA-256, the engine's AOT ABI, the compiler and the target. A
 * .wasmc is native code: it must be trusted like any binary. Instances of a
 * module loaded from one run natively, with the interpreter's semantics
 * (host functions, traps, limits, interruption). */

typedef struct {
  const char *cc;     /* compiler command: NULL = "cc"; "clang-16" works too */
  const char *cflags; /* extra flags, space-separated; NULL = none */
  const char *tmpdir; /* where to work; NULL = $TMPDIR or /tmp */
  /* The CPU the code is for: NULL or "host" = the best x86-64 level this
   * machine has ("x86-64-v3" or "x86-64-v2"), or "x86-64" for any x86-64
   * (a .wasmc is refused on a CPU without its level). */
  const char *cpu;
  /* Every load happens even when its value is never used, so that an
   * out-of-bounds one always traps as on the interpreter. Off by default:
   * the C compiler may then drop a load whose value no code reads (it
   * cannot read outside memory either way), and loops vectorise. */
  int strict_loads;
  /* Optional: polled (every few ms) while the compiler runs; when it
   * returns non-zero the compiler's whole process group is killed and the
   * compile fails with WASM_ERR_ARG ("cancelled"). With it, the compiler
   * runs in a process group of its own (so that it can be killed with its
   * children), which also keeps a terminal's Ctrl-C away from it. */
  int (*cancelled)(void *arg);
  void *cancel_arg;
} wasm_native_options;

/* Translates m to C, compiles it (cc -O3 -fPIC -shared) and writes the
 * .wasmc to out_path (atomically: a temporary file renamed). The compiler's
 * diagnostics, if it fails, end up in err->msg (the last lines). */
wasm_status wasm_module_compile_native(const wasm_module *m, const wasm_native_options *o,
                                       const char *out_path, wasm_error *err);
/* 1 if bytes are meant as native code (an ELF file, as a .wasmc is; a
 * damaged one too, so that loading it says what is wrong), else 0. */
int wasm_is_native(const uint8_t *bytes, size_t len);
/* Loads a .wasmc: checks the trailer (format, ABI, target), the SHA-256 of
 * the code and of the embedded module, then maps the code and decodes,
 * validates and compiles the embedded module. Stale, foreign, truncated or
 * modified files are refused with WASM_ERR_MALFORMED and a message saying
 * which. The caller owns *out (wasm_module_free). */
wasm_status wasm_module_load_native(const uint8_t *bytes, size_t len, wasm_module **out,
                                    wasm_error *err);
/* 1 if instances of m run native code. */
int wasm_module_is_native(const wasm_module *m);
/* The module's SHA-256 (of its binary). */
void wasm_module_digest(const wasm_module *m, uint8_t out[32]);
/* The file name a cache keeps m's native code under:
 * "<module sha256>-abi<N>-<16 hex digits naming the compiler>.wasmc", the
 * compiler named by the first line of `CC --version`, the flags and the CPU
 * level (o may be NULL). Runs the compiler once per (cc, cflags) per process. Returns 0,
 * or -1 (message in err) when the compiler cannot be run. */
int wasm_native_cache_name(const wasm_module *m, const wasm_native_options *o, char *out,
                           size_t cap, char *err, size_t errlen);

/* Signature text of a function type: params "->" results, one letter each:
 * i=i32 I=i64 f=f32 F=f64 v=v128 r=funcref e=externref. "ii->i", "->", "F->". */

/* Limits of a table (in elements) or a memory (in 64 KiB pages), as the
 * module declares them. max is UINT32_MAX when has_max is 0. */
typedef struct {
  uint32_t min, max;
  int has_max;
} wasm_limits;

/* Names (imports, exports) are C strings in UTF-8. A name containing U+0000,
 * which WebAssembly allows, is stored and looked up with that character
 * written as the two bytes C0 80 ("modified UTF-8"), so that "" and "\0"
 * stay distinct names. */
typedef struct {
  const char *module; /* borrowed from the wasm_module */
  const char *name;
  wasm_extern_kind kind;
  /* func: signature text; table/memory/global: a short description,
   * e.g. "funcref 1..10", "pages 1..", "mut i32". */
  const char *type;
  wasm_limits limits; /* table / memory: its limits; zero otherwise */
} wasm_import_desc;

typedef struct {
  const char *name;
  wasm_extern_kind kind;
  uint32_t index;     /* in the kind's index space */
  const char *type;   /* borrowed from the wasm_module */
  wasm_limits limits; /* table / memory: its limits; zero otherwise */
} wasm_export_desc;

/* The descriptors' strings are borrowed from the module (valid until
 * wasm_module_free). An index out of range gives an empty descriptor. */
uint32_t wasm_module_import_count(const wasm_module *m);
void wasm_module_import(const wasm_module *m, uint32_t i, wasm_import_desc *out);
uint32_t wasm_module_export_count(const wasm_module *m);
void wasm_module_export(const wasm_module *m, uint32_t i, wasm_export_desc *out);
/* Name of function `index` from the name section, or NULL; borrowed from
 * the module. */
const char *wasm_module_func_name(const wasm_module *m, uint32_t index);

/* Sizes of the index spaces, imports included (imports come first). */
uint32_t wasm_module_func_count(const wasm_module *m);
uint32_t wasm_module_table_count(const wasm_module *m);
uint32_t wasm_module_memory_count(const wasm_module *m);
/* Type of table / memory `index` (imported or defined). Return 1, or 0 and
 * write nothing when the index is out of range. `elem` may be NULL. */
int wasm_module_table_type(const wasm_module *m, uint32_t index, wasm_valtype *elem,
                           wasm_limits *limits);
int wasm_module_memory_limits(const wasm_module *m, uint32_t index, wasm_limits *limits);

/* The sections of the binary, in the order they appear. */
typedef struct {
  uint8_t id;      /* 0 custom, 1 type, 2 import, ... 12 data count */
  uint32_t offset; /* byte offset of the section's id byte */
  uint32_t size;   /* bytes of contents (after the size field) */
  /* Custom sections: the name's bytes as in the binary (not NUL-terminated),
   * borrowed from the module; NULL / 0 for the other sections. */
  const uint8_t *name;
  uint32_t name_len;
} wasm_section_desc;

uint32_t wasm_module_section_count(const wasm_module *m);
/* An index out of range gives id 0, offset and size 0, name NULL. */
void wasm_module_section(const wasm_module *m, uint32_t i, wasm_section_desc *out);

/* ---- Host objects ------------------------------------------------------ */

/* A host function. `env` is the pointer given to wasm_linker_define_func;
 * `args` holds the parameters as slots; write the results
 * into `args` starting at slot 0 (the array is large enough for both).
 * Return WASM_OK, or a trap status; for WASM_TRAP_EXIT/HOST call
 * wasm_instance_set_trap_detail first. `caller` is the instance whose code
 * made the call (NULL when called directly by the embedder). */
typedef wasm_status (*wasm_host_fn)(wasm_instance *caller, void *env, wasm_slot *args);

/* Create host-owned memory/table/global (refcounted; *_free drops the
 * creator's reference). max_pages / max = UINT32_MAX means no maximum. */
wasm_status wasm_memory_new(uint32_t min_pages, uint32_t max_pages, wasm_memory **out);
void wasm_memory_free(wasm_memory *mem);
/* Start of the memory's bytes (NULL for mem NULL), owned by the memory. It
 * stays valid for the memory's whole life: the memory reserves its largest
 * possible size up front and memory.grow only makes more of that
 * reservation accessible, so the base never moves. */
uint8_t *wasm_memory_data(wasm_memory *mem);
uint64_t wasm_memory_size(const wasm_memory *mem); /* bytes */
/* Grows by `delta` pages; returns the old size in pages or -1. */
int64_t wasm_memory_grow(wasm_memory *mem, uint32_t delta);

/* ---- Guest memory from host code ---------------------------------------
 *
 * Host functions turn a guest pointer and length into a host pointer only
 * through wasm_view_range / wasm_memory_range, and read or write multi-byte
 * values there with wasm_load_le* / wasm_store_le* (guest pointers need not
 * be aligned; wasm is little-endian whatever the host is). */

/* A snapshot of a memory's base and accessible size. Memories never move
 * and never shrink, so a view stays safe for the memory's whole life; it
 * only misses pages that a later memory.grow adds (take a new view after
 * calling back into wasm if that matters). Plain data: copy it freely. */
typedef struct {
  uint8_t *data; /* never NULL */
  uint64_t size; /* bytes */
} wasm_memory_view;

/* View of `mem`; mem NULL gives an empty view (size 0), in which only
 * zero-length ranges at 0 are in bounds. */
wasm_memory_view wasm_memory_view_of(wasm_memory *mem);

/* The host pointer of guest bytes [ptr, ptr + len), or NULL unless all of
 * them lie inside the view. Safe for any ptr and len (no overflow); a
 * zero-length range is in bounds up to and including the end. The pointer
 * is borrowed from the memory. Inline because WASI's fd_read / fd_write
 * check every iovec with it. */
static inline uint8_t *wasm_view_range(const wasm_memory_view *v, uint64_t ptr, uint64_t len) {
  return len <= v->size && ptr <= v->size - len ? v->data + ptr : NULL;
}

/* wasm_view_range over the memory's current size; NULL also for mem NULL
 * (except a zero-length range at 0). */
uint8_t *wasm_memory_range(wasm_memory *mem, uint64_t ptr, uint64_t len);

static inline uint16_t wasm_load_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t wasm_load_le32(const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
#else
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
#endif
}
static inline uint64_t wasm_load_le64(const uint8_t *p) {
  return wasm_load_le32(p) | (uint64_t)wasm_load_le32(p + 4) << 32;
}
static inline void wasm_store_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void wasm_store_le32(uint8_t *p, uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  __builtin_memcpy(p, &v, 4);
#else
  wasm_store_le16(p, (uint16_t)v);
  wasm_store_le16(p + 2, (uint16_t)(v >> 16));
#endif
}
static inline void wasm_store_le64(uint8_t *p, uint64_t v) {
  wasm_store_le32(p, (uint32_t)v);
  wasm_store_le32(p + 4, (uint32_t)(v >> 32));
}

/* A table of `min` elements of type `elem` (WASM_FUNCREF or
 * WASM_EXTERNREF), each set to `init` (a wasm_func* for funcref, an opaque
 * host pointer for externref, NULL for null; borrowed, as every reference
 * a table holds: a wasm_func must outlive the table's use of it). */
wasm_status wasm_table_new(wasm_valtype elem, uint32_t min, uint32_t max, void *init,
                           wasm_table **out);
void wasm_table_free(wasm_table *t);
uint32_t wasm_table_size(const wasm_table *t);
/* Element i (a borrowed reference), or WASM_TRAP_TABLE_OOB. */
wasm_status wasm_table_get(const wasm_table *t, uint32_t i, void **out);
/* Stores `ref` (borrowed, like `init` above), or WASM_TRAP_TABLE_OOB. */
wasm_status wasm_table_set(wasm_table *t, uint32_t i, void *ref);

/* Values are copied in and out; a reference value stays borrowed, as in
 * tables. */
wasm_status wasm_global_new(wasm_value init, int mutable_, wasm_global **out);
void wasm_global_free(wasm_global *g);
void wasm_global_get(const wasm_global *g, wasm_value *out);
wasm_status wasm_global_set(wasm_global *g, wasm_value v);

/* ---- Linking ----------------------------------------------------------- */

typedef struct {
  wasm_extern_kind kind;
  union {
    wasm_func *func;
    wasm_table *table;
    wasm_memory *memory;
    wasm_global *global;
  } of;
} wasm_extern;

/* A linker maps (module, name) to externs. It does not own instances it
 * refers to; it holds references to memories/tables/globals, and owns the
 * envs given to wasm_linker_define_func_owned. */
wasm_linker *wasm_linker_new(void);
/* Frees the linker, drops its references and calls the env_free of every
 * owned env. Instances copy an imported host function's (fn, env) when
 * they are created, so they may outlive the linker, except that an
 * instance importing a function whose env the linker owns must be freed
 * first (its env dies here). */
void wasm_linker_free(wasm_linker *l);
/* Define a host function with signature text (see above). Later
 * definitions of the same name replace earlier ones. `env` is borrowed:
 * the caller keeps it valid for as long as any instance that imported the
 * function lives. */
wasm_status wasm_linker_define_func(wasm_linker *l, const char *module, const char *name,
                                    const char *signature, wasm_host_fn fn, void *env);
/* Destructor of an owned env. */
typedef void (*wasm_env_free_fn)(void *env);
/* Like wasm_linker_define_func, but the linker owns `env` and calls
 * env_free(env) (if not NULL) in wasm_linker_free, even when the definition
 * is later replaced. Ownership passes whatever the result: on failure
 * env_free(env) is called before returning. */
wasm_status wasm_linker_define_func_owned(wasm_linker *l, const char *module, const char *name,
                                          const char *signature, wasm_host_fn fn, void *env,
                                          wasm_env_free_fn env_free);
/* Define an extern. The linker takes its own reference to a memory, table
 * or global (the caller keeps and frees its own); a wasm_func is borrowed
 * from its instance, which must outlive the linker's use of it and every
 * instance linked to it. Names are copied. */
wasm_status wasm_linker_define(wasm_linker *l, const char *module, const char *name,
                               wasm_extern ext);
/* Define every export of `inst` under `module` (as wasm_linker_define does:
 * `inst` stays the caller's and must outlive its use). */
wasm_status wasm_linker_define_instance(wasm_linker *l, const char *module, wasm_instance *inst);

/* ---- Instances --------------------------------------------------------- */

typedef struct {
  uint32_t max_memory_pages; /* cap for memory.grow and initial size; 0 = 65536 */
  uint32_t max_call_depth;   /* 0 = default (10000) */
  uint32_t stack_slots;      /* value-stack size in 8-byte slots; 0 = default (1 Mi) */
  void *user_data;           /* for host functions: wasm_instance_user_data */
  /* Optional: called on the instantiating thread with the new instance
   * right before the module's start function runs, and with NULL right
   * after it returns (trapped or not, before the instance can be freed).
   * In between the embedder may stop a start function that runs too long
   * with wasm_instance_interrupt from any thread (wasm_instantiate then
   * fails with WASM_TRAP_INTERRUPTED); the instance must not be used
   * otherwise. Not called for a module without a start function. */
  void (*on_start)(wasm_instance *inst, void *arg);
  void *on_start_arg;
} wasm_instance_opts;

/* Instantiate: resolve imports through `linker` (may be NULL if there are
 * none), allocate memory/tables/globals, run element and data segment
 * initialisation and the start function. Errors: WASM_ERR_LINK (with the
 * import named), a trap during initialisation (the instance is not created),
 * WASM_ERR_NOMEM. `opts` may be NULL and is copied. The linker is only read
 * during the call (see wasm_linker_free for what must outlive what); `m`
 * must outlive the instance. The caller owns *out (wasm_instance_free). */
wasm_status wasm_instantiate(const wasm_module *m, const wasm_linker *linker,
                             const wasm_instance_opts *opts, wasm_instance **out, wasm_error *err);
/* Frees the instance and drops its references to imported memories,
 * tables and globals. NULL is fine. */
void wasm_instance_free(wasm_instance *inst);

/* The module it was instantiated from (borrowed). */
const wasm_module *wasm_instance_module(const wasm_instance *inst);
/* opts.user_data as given: the embedder's, never freed by the engine. */
void *wasm_instance_user_data(const wasm_instance *inst);
/* Memory 0 of the instance (defined or imported), or NULL; borrowed from
 * the instance. */
wasm_memory *wasm_instance_memory(wasm_instance *inst);
/* The export's extern, borrowed from the instance (no reference taken). */
wasm_status wasm_instance_export(wasm_instance *inst, const char *name, wasm_extern *out);
/* Exported function or NULL; borrowed from the instance. */
wasm_func *wasm_instance_export_func(wasm_instance *inst, const char *name);

/* Stop a running (or the next) call of this instance with
 * WASM_TRAP_INTERRUPTED. Safe from any thread and from signal handlers.
 * wasm_instance_clear_interrupt re-arms the instance. */
void wasm_instance_interrupt(wasm_instance *inst);
void wasm_instance_clear_interrupt(wasm_instance *inst);
/* 1 while an interrupt is pending (set and not yet cleared). For host
 * functions that wait (a WASI sleep), so that wasm_instance_interrupt ends
 * the wait too and not only the guest code around it. */
int wasm_instance_interrupt_pending(const wasm_instance *inst);

/* For host functions: attach a message / exit code to the trap they return.
 * The message is copied (at most 255 bytes are kept); msg may be NULL for
 * none. */
void wasm_instance_set_trap_detail(wasm_instance *inst, int32_t exit_code, const char *msg);

/* ---- Calling ----------------------------------------------------------- */

/* Signature text of a function ("ii->i"); borrowed from the function. */
const char *wasm_func_signature(const wasm_func *f);
uint32_t wasm_func_param_count(const wasm_func *f);
uint32_t wasm_func_result_count(const wasm_func *f);
wasm_valtype wasm_func_param_type(const wasm_func *f, uint32_t i);
wasm_valtype wasm_func_result_type(const wasm_func *f, uint32_t i);

/* Call `f` with typed arguments (checked against its signature: WASM_ERR_ARG
 * on mismatch). On WASM_OK, results[0..nresults) are written (reference
 * results are borrowed, as in tables). A trap returns its status with the
 * function and code offset in *err. */
wasm_status wasm_func_call(wasm_func *f, const wasm_value *args, uint32_t nargs,
                           wasm_value *results, uint32_t nresults, wasm_error *err);

/* Convenience: look up an exported function by name and call it. */
wasm_status wasm_instance_call(wasm_instance *inst, const char *name, const wasm_value *args,
                               uint32_t nargs, wasm_value *results, uint32_t nresults,
                               wasm_error *err);

#ifdef __cplusplus
}
#endif
#endif
