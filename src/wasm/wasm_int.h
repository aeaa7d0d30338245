/* wasm_int.h — engine internals shared between the engine's files.
 *
 * Files and who owns what, each calling only files listed below it:
 *   module.c    wasm_module_compile (decode+validate+compile), a module's
 *               release (wasmi_module_release), introspection
 *   instance.c  linker, instantiate, externs, public call API
 *   validate.c  spec typing rules over a decoded module (wasmi_validate)
 *   decode.c    bytes -> struct wasm_module (sections, const exprs, names)
 *   compile.c   validated code -> internal threaded code (struct wasm_code)
 *   interp.c    executes struct wasm_code (wasmi_interp_invoke)
 *   memory.c    linear memory reservation, guard pages, trap signal handler
 *   status.c    status / value-type texts, wasmi_error_set, wasmi_func_label
 * Nothing here is visible to embedders; they include wasm.h only.
 *
 * Naming: wasm_* with external linkage is public (declared in wasm.h);
 * every other function with external linkage is wasmi_* ("internal"), so
 * wasmi_compile can never be taken for wasm_module_compile. Types, macros
 * and static inline helpers of these headers keep the wasm_ / WASM_ prefix:
 * they are not linkable, and the header they come from says they are
 * internal.
 */
#ifndef WAGI_WASM_INT_H
#define WAGI_WASM_INT_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wasm.h"

#define WASM_PAGE_SIZE 65536u
#define WASM_MAX_PAGES 65536u
#define WASM_NONE_TYPE 0x40 /* empty block type */
/* Tables hold 8-byte entries; a guest must not be able to ask for gigabytes. */
#define WASM_TABLE_MAX_ENTRIES 10000000u

#if defined(__GNUC__)
#define WASM_LIKELY(x) __builtin_expect(!!(x), 1)
#define WASM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define WASM_LIKELY(x) (x)
#define WASM_UNLIKELY(x) (x)
#endif

/* ---- Opcodes (see opcodes.def) ---------------------------------------- */

enum {
#define WASM_OP(name, code, text, kind, res, p1, p2, p3, lanes) WASM_OP_##name = code,
#include "opcodes.def"
};
enum {
#define WASM_OP_FC(name, code, text, kind, res, p1, p2, p3, lanes) WASM_FC_##name = code,
#include "opcodes.def"
};
enum {
#define WASM_OP_FD(name, code, text, kind, res, p1, p2, p3, lanes) WASM_FD_##name = code,
#include "opcodes.def"
};
#define WASM_PREFIX_FC 0xfc
#define WASM_PREFIX_FD 0xfd

/* ---- Byte reader with bounds and LEB128 -------------------------------- */

/* A cursor over module bytes. All reads check bounds; on failure they set
 * `err` (first error wins) and return 0, so callers can test once. */
typedef struct {
  const uint8_t *start; /* start of the whole module: offsets are relative to it */
  const uint8_t *p;
  const uint8_t *end;
  const char *err; /* static text of the first error, or NULL */
  const uint8_t *err_at;
} wasm_reader;

static inline uint32_t wasm_reader_offset(const wasm_reader *r, const uint8_t *at) {
  return (uint32_t)(at - r->start);
}

static inline void wasm_reader_fail(wasm_reader *r, const char *what) {
  if (!r->err) {
    r->err = what;
    r->err_at = r->p;
  }
  r->p = r->end;
}

static inline uint8_t wasm_read_u8(wasm_reader *r) {
  if (WASM_UNLIKELY(r->p >= r->end)) {
    wasm_reader_fail(r, "unexpected end");
    return 0;
  }
  return *r->p++;
}

/* Unsigned LEB128 of at most `bits` bits (32 or 64). The spec's messages:
 * "integer representation too long" (too many bytes) and
 * "integer too large" (unused bits set in the last byte). */
static inline uint64_t wasm_read_uleb(wasm_reader *r, unsigned bits) {
  uint64_t result = 0;
  unsigned shift = 0;
  for (;;) {
    if (WASM_UNLIKELY(r->p >= r->end)) {
      wasm_reader_fail(r, "unexpected end");
      return 0;
    }
    uint8_t b = *r->p++;
    if (shift + 7 >= bits && shift < bits) {
      /* last permitted byte: high bits beyond `bits` must be zero */
      unsigned used = bits - shift;
      if (b & 0x80) {
        wasm_reader_fail(r, "integer representation too long");
        return 0;
      }
      if (used < 7 && (b >> used) != 0) {
        wasm_reader_fail(r, "integer too large");
        return 0;
      }
      return result | ((uint64_t)b << shift);
    }
    result |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return result;
    shift += 7;
  }
}

/* Signed LEB128 of at most `bits` bits (32, 33 or 64), sign-extended. */
static inline int64_t wasm_read_sleb(wasm_reader *r, unsigned bits) {
  uint64_t result = 0;
  unsigned shift = 0;
  for (;;) {
    if (WASM_UNLIKELY(r->p >= r->end)) {
      wasm_reader_fail(r, "unexpected end");
      return 0;
    }
    uint8_t b = *r->p++;
    if (shift + 7 >= bits) {
      /* last permitted byte: the unused bits must all equal the sign bit */
      unsigned used = bits - shift; /* 1..7 payload bits here */
      if (b & 0x80) {
        wasm_reader_fail(r, "integer representation too long");
        return 0;
      }
      int8_t rest = (int8_t)(b << 1) >> 1;       /* sign-extend 7-bit payload */
      int8_t top = (int8_t)(rest >> (used - 1)); /* must be 0 or -1 */
      if (top != 0 && top != -1) {
        wasm_reader_fail(r, "integer too large");
        return 0;
      }
      result |= (uint64_t)(b & 0x7f) << shift;
      shift += 7;
      if (shift < 64 && (b & 0x40)) result |= ~(uint64_t)0 << shift;
      return (int64_t)result;
    }
    result |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) {
      if (shift < 64 && (b & 0x40)) result |= ~(uint64_t)0 << shift;
      return (int64_t)result;
    }
  }
}

static inline uint32_t wasm_read_u32(wasm_reader *r) { return (uint32_t)wasm_read_uleb(r, 32); }

/* ---- Decoded module ---------------------------------------------------- */

/* A function type. `types` holds params then results. Slot counts count
 * 8-byte cells (v128 = 2). Types are canonicalised per module: `canon` is the
 * index of the first structurally equal type, so equal types compare by
 * pointer after mapping through it. */
typedef struct {
  uint32_t nparams, nresults;
  uint8_t *types; /* wasm_valtype bytes, nparams + nresults */
  uint32_t param_slots, result_slots;
  uint32_t canon;
  char *sig; /* signature text "ii->i", for messages and API */
} wasm_functype;

static inline uint8_t wasm_functype_param(const wasm_functype *t, uint32_t i) {
  return t->types[i];
}
static inline uint8_t wasm_functype_result(const wasm_functype *t, uint32_t i) {
  return t->types[t->nparams + i];
}
/* Structural equality (used across modules). */
static inline bool wasm_functype_equal(const wasm_functype *a, const wasm_functype *b) {
  return a->nparams == b->nparams && a->nresults == b->nresults &&
         memcmp(a->types, b->types, a->nparams + a->nresults) == 0;
}

/* wasm_limits is public (wasm.h). */
typedef struct {
  uint8_t elemtype;
  wasm_limits limits;
} wasm_tabletype;
typedef struct {
  wasm_limits limits;
} wasm_memtype;
typedef struct {
  uint8_t type;
  bool mut;
} wasm_globaltype;

/* A constant expression, decoded. */
typedef enum {
  WASM_CONST_VALUE,      /* value in `value` (i32/i64/f32/f64/v128 const) */
  WASM_CONST_GLOBAL_GET, /* index */
  WASM_CONST_REF_NULL,   /* value.type = reftype */
  WASM_CONST_REF_FUNC,   /* index */
} wasm_const_kind;

typedef struct {
  wasm_const_kind kind;
  uint8_t type; /* result type of the expression as decoded */
  uint32_t index;
  wasm_value value;
  uint32_t offset; /* byte offset of the expression (for errors) */
} wasm_const_expr;

typedef struct {
  char *module, *name;
  uint8_t kind; /* wasm_extern_kind */
  union {
    uint32_t func_type; /* type index */
    wasm_tabletype table;
    wasm_memtype mem;
    wasm_globaltype global;
  } desc;
  char *type_text;    /* introspection text (wasm_import_desc.type); in m->arena */
  uint32_t link_hash; /* wasmi_link_hash(module, name), set by wasm_module_compile */
} wasm_import;

typedef struct {
  char *name;
  uint8_t kind;
  uint32_t index;
  char *type_text; /* introspection text (wasm_export_desc.type); in m->arena */
} wasm_export;

typedef struct {
  wasm_globaltype type;
  wasm_const_expr init;
} wasm_global_decl;

typedef enum { WASM_SEG_ACTIVE, WASM_SEG_PASSIVE, WASM_SEG_DECLARATIVE } wasm_seg_mode;

typedef struct {
  wasm_seg_mode mode;
  uint8_t elemtype;       /* funcref / externref */
  uint32_t table;         /* active only */
  wasm_const_expr offset; /* active only */
  uint32_t count;
  wasm_const_expr *items; /* funcidx lists are decoded as REF_FUNC items */
} wasm_elem;

typedef struct {
  wasm_seg_mode mode; /* ACTIVE or PASSIVE */
  uint32_t memory;
  wasm_const_expr offset;
  uint32_t size;
  const uint8_t *bytes; /* points into wasm_module.bytes */
} wasm_data;

/* A defined function's body. Locals are expanded: local_types[i] for
 * i < nlocals (excluding params). `code`..`code_end` is the instruction
 * sequence (after the locals vector), inside wasm_module.bytes. */
typedef struct {
  uint32_t nlocals;
  uint8_t *local_types;
  const uint8_t *code, *code_end;
  uint32_t offset;            /* byte offset of the body (size field start) */
  struct wasm_code *compiled; /* filled by compile.c */
} wasm_body;

typedef struct {
  char *name;
  const uint8_t *raw_name; /* the name as in the binary, into wasm_module.bytes */
  uint32_t raw_name_len;
  const uint8_t *data; /* into wasm_module.bytes */
  uint32_t size;
} wasm_custom;

struct wasm_module {
  uint8_t *bytes; /* private copy of the binary; everything points here */
  size_t len;

  wasm_functype *types;
  uint32_t ntypes;
  wasm_import *imports;
  uint32_t nimports;

  /* Index spaces: imports first, then definitions. */
  uint32_t nfuncs, nfunc_imports;
  uint32_t *func_type; /* [nfuncs] type index */
  wasm_body *bodies;   /* [nfuncs - nfunc_imports] */

  uint32_t ntables, ntable_imports;
  wasm_tabletype *tables; /* [ntables], imported ones first */

  uint32_t nmems, nmem_imports;
  wasm_memtype *mems;

  uint32_t nglobals, nglobal_imports;
  wasm_globaltype *global_types; /* [nglobals] */
  wasm_const_expr *global_inits; /* [nglobals]; unused for imports */

  wasm_export *exports;
  uint32_t nexports;
  bool has_start;
  uint32_t start;
  wasm_elem *elems;
  uint32_t nelems;
  wasm_data *datas;
  uint32_t ndatas;
  bool has_datacount;
  uint32_t datacount;

  wasm_custom *customs;
  uint32_t ncustoms;
  wasm_section_desc *sections;
  uint32_t nsections; /* in binary order */
  char *module_name;  /* name section, or NULL */
  char **func_names;  /* [nfuncs], entries may be NULL; array NULL if none */

  /* Functions referenced outside function bodies (exports, elems, globals):
   * the set ref.func may use in code. [nfuncs] booleans. */
  uint8_t *func_declared;

  /* Native code when loaded from a .wasmc (aot.c), else NULL. */
  struct wasmi_aot_code *aot;

  /* decode.c's bump arena: names, signatures, type vectors, local types and
   * introspection texts live here and are freed together by
   * wasmi_decoded_free (never free() them one by one). */
  struct wasm_arena_chunk *arena;
};

/* Decode a binary. On failure returns WASM_ERR_MALFORMED (WASM_ERR_INVALID
 * for a non-constant or mistyped constant expression, as the spec classifies
 * it; or NOMEM) and fills err; nothing is allocated then. Names are stored
 * with U+0000 as the bytes C0 80, so they stay distinct as C strings. */
wasm_status wasmi_decode(const uint8_t *bytes, size_t len, wasm_module **out, wasm_error *err);
/* Frees what wasmi_decode allocated (arena, tables, byte copy) and the
 * module itself; compiled code must be gone already (module.c). */
void wasmi_decoded_free(wasm_module *m);
/* Frees a module and everything it owns, compiled code included (module.c). */
void wasmi_module_release(wasm_module *m);

/* Validate every part of a decoded module (WASM_ERR_INVALID on failure). */
wasm_status wasmi_validate(const wasm_module *m, wasm_error *err);

/* A block's signature: its parameter and result types (pointing into the
 * module's types, or into a static table for a single value type). */
typedef struct {
  uint32_t nparams, nresults;
  const uint8_t *params, *results;
} wasmi_block_sig;
/* Block type `bt` as read (-64: none; a value type's byte as a negative
 * s33; else a type index, already validated) (compile.c, for both
 * translators). */
wasmi_block_sig wasmi_block_type(const wasm_module *m, int64_t bt);

/* Skips the immediates of instruction `op` (code after an unconditional
 * branch, which both translators skip) (compile.c). */
void wasmi_skip_imm(wasm_reader *r, uint8_t op);
/* In dead code (after an unconditional branch) of the innermost block:
 * consumes instruction `op` (its immediates, and nested blocks, counted in
 * *depth, 0 at the start of the dead region) and returns true, or returns
 * false for the else/end that ends the dead region, which the caller
 * handles as usual (compile.c). */
bool wasmi_skip_dead(wasm_reader *r, uint8_t op, uint32_t *depth);

/* Translate every body of a validated module into internal code. */
wasm_status wasmi_compile(wasm_module *m, wasm_error *err);
void wasmi_code_free(struct wasm_code *code);

/* printf into err->msg with status, func and offset. Returns `status`. */
wasm_status wasmi_error_set(wasm_error *err, wasm_status status, uint32_t func, uint32_t offset,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "function 3 ($name)" or "function 3" into buf. */
const char *wasmi_func_label(const wasm_module *m, uint32_t func, char *buf, size_t n);

/* ---- Runtime objects ---------------------------------------------------- */

struct wasm_func {
  const wasm_functype *type;
  wasm_instance *inst;          /* owner; NULL for host functions */
  uint32_t index;               /* function index in inst's module */
  const struct wasm_code *code; /* NULL for host functions */
  wasm_host_fn host;
  void *host_env;
};

struct wasm_memory {
  uint8_t *base;         /* start of reservation; never moves */
  _Atomic uint64_t size; /* bytes accessible (pages * 64 KiB) */
  uint64_t reserved;     /* bytes reserved (incl. guard) */
  uint32_t max_pages;    /* declared max (UINT32_MAX: none) */
  uint32_t cap_pages;    /* embedder's cap */
  _Atomic uint32_t refs;
};

struct wasm_table {
  uint8_t elemtype;
  uint32_t size, max; /* max: UINT32_MAX if none */
  void **elems;       /* wasm_func* or externref pointers */
  uint32_t capacity;
  _Atomic uint32_t refs;
};

struct wasm_global {
  uint8_t type;
  bool mut;
  wasm_slot val[2]; /* v128 uses both */
  _Atomic uint32_t refs;
};

struct wasm_instance {
  const wasm_module *module;

  /* Hot fields first: the interpreter reads them on every access. */
  uint8_t *mem_base;           /* memory 0 base (NULL if none) */
  wasm_memory *memory;         /* memory 0 or NULL */
  wasm_global **globals;       /* [nglobals] */
  wasm_table **tables;         /* [ntables] */
  wasm_func **funcs;           /* [nfuncs] */
  const wasm_functype **types; /* [ntypes] canonical type pointers */
  _Atomic int interrupted;

  wasm_func *func_storage; /* defined functions */
  uint8_t *data_dropped;   /* [ndatas] */
  uint8_t *elem_dropped;   /* [nelems] */
  void ***elem_refs;       /* [nelems] resolved references per segment */
  wasm_instance_opts opts;
  void *user_data;

  /* The AOT tier's context when the module has native code (aot.c). */
  struct wagi_aot_ctx *aot_ctx;

  /* Trap detail from host functions. */
  int32_t exit_code;
  char trap_msg[256];
};

/* ---- Traps via signals ------------------------------------------------- */

/* One trap point per active entry into wasm on a thread (they nest when host
 * functions call back into wasm). The signal handler in memory.c turns a
 * SIGSEGV/SIGBUS whose address lies in [mem_lo, mem_hi) into
 * siglongjmp(jb, WASM_TRAP_MEM_OOB). The interpreter keeps mem_lo/mem_hi
 * set to the reservation of the memory it is currently using. */
typedef struct wasm_trap_point {
  sigjmp_buf jb;
  const uint8_t *volatile mem_lo;
  const uint8_t *volatile mem_hi;
  /* Set by the handler before it jumps: the faulting instruction's address
   * (the AOT tier maps it to a function and offset; NULL: unknown). */
  const void *volatile fault_pc;
  struct wasm_trap_point *prev;
} wasm_trap_point;

extern _Thread_local wasm_trap_point *wasmi_tls_trap_point;

/* Fills tp for an entry into inst's code (either tier): the point it
 * returns to, memory's reservation (a fault inside it is a trap) and no
 * fault yet. The caller makes it current (wasmi_tls_trap_point = tp). */
void wasmi_trap_point_init(wasm_trap_point *tp, const wasm_instance *inst);

/* Installs the SIGSEGV/SIGBUS handler (idempotent, thread-safe). */
void wasmi_trap_init(void);
/* Call on every entry into wasm from the embedder (wasm_func_call and the
 * start function do). First call on a thread: wasmi_trap_init and an
 * alternate signal stack. Every outermost entry: one sigaction() to check
 * that our SIGSEGV handler is still installed (cmocka, crash reporters may
 * replace it) and take it back if not. */
void wasmi_trap_thread_init(void);

/* Memory objects (memory.c). */
wasm_status wasmi_memory_create(uint32_t min_pages, uint32_t max_pages, uint32_t cap_pages,
                                wasm_memory **out);
void wasmi_memory_retain(wasm_memory *m);
void wasmi_memory_release(wasm_memory *m);

/* Hash of an import name as the linker indexes it (instance.c); computed
 * once per import at compile time so instantiation does not rehash. */
uint32_t wasmi_link_hash(const char *module, const char *name);

/* Runtime state the interpreter relies on (instance.c guarantees it):
 * - inst->funcs[i] is non-NULL for every function index; host imports are
 *   wasm_func with code == NULL and host != NULL; imported wasm functions are
 *   the exporter's wasm_func (a different inst).
 * - inst->types[t] points at a wasm_functype; call_indirect compares
 *   inst->types[t] == f->type first, then wasm_functype_equal.
 * - inst->elem_refs[s] holds segment s's references (NULL when dropped;
 *   elem_dropped[s] set); active and declarative segments are dropped after
 *   instantiation. data_dropped[d] likewise for data segments (active ones
 *   dropped after instantiation); bytes come from module->datas[d].
 * - inst->globals[g] points at the cell (imported globals are shared). */

/* ---- Execution (interp.c) ---------------------------------------------- */

/* The bulk-memory and table operations, shared with the AOT tier (aot.c):
 * a trap status or WASM_OK. wasmi_table_grow: the old size or -1. */
wasm_status wasmi_op_memory_init(wasm_instance *inst, uint32_t seg, uint32_t d, uint32_t s,
                                 uint32_t n);
wasm_status wasmi_op_memory_copy(wasm_instance *inst, uint32_t d, uint32_t s, uint32_t n);
wasm_status wasmi_op_memory_fill(wasm_instance *inst, uint32_t d, uint32_t v, uint32_t n);
wasm_status wasmi_op_table_init(wasm_instance *inst, uint32_t tab, uint32_t seg, uint32_t d,
                                uint32_t s, uint32_t n);
wasm_status wasmi_op_table_copy(wasm_instance *inst, uint32_t dt, uint32_t stab, uint32_t d,
                                uint32_t s, uint32_t n);
wasm_status wasmi_op_table_fill(wasm_instance *inst, uint32_t tab, uint32_t i, void *v, uint32_t n);
int64_t wasmi_table_grow(wasm_table *t, uint32_t delta, void *init);

/* Call `f` (wasm or host). `slots` holds the arguments on entry and the
 * results on return (sized max(param_slots, result_slots)). Handles trap
 * points, stack limits and interruption; fills err on traps. */
wasm_status wasmi_interp_invoke(wasm_func *f, wasm_slot *slots, wasm_error *err);

#endif
