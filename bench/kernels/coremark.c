/* coremark.c — a CoreMark-like mix, written for this benchmark (CoreMark
 * itself is not packaged here). Each iteration runs, on small data that stays
 * in L1 like CoreMark's 2 KB:
 *   - a linked list: finds, reversals, moving the found node's successor to
 *     the head, a merge sort by a computed value (through a function
 *     pointer), a removal and re-insertion, a merge sort back by index;
 *   - small int16 matrices: add a constant, multiply by a constant, by a
 *     vector, by a matrix, and by a matrix keeping only extracted bit fields,
 *     each reduced by a clipping sum;
 *   - a state machine classifying the comma-separated numbers of a byte
 *     string (int, float, scientific, invalid), once as generated and once
 *     with every few bytes corrupted;
 * and folds every result into a CRC-16, which seeds the next iteration.
 * Pointer-chasing, short data-dependent branches, 16-bit arithmetic. */
#include "kernel.h"

#ifdef SMALL
static int iterations = 120;
#else
static int iterations = 12000;
#endif

#define LIST_NODES 96
#define LIST_FINDS 24
#define MAT_N 12
#define STATE_BYTES 720

/* ---- CRC-16 (reflected polynomial 0xA001), bit by bit as CoreMark does ---- */

static uint16_t crc_u8(uint8_t data, uint16_t crc) {
  for (int i = 0; i < 8; i++) {
    uint16_t carry = (uint16_t)((data ^ crc) & 1);
    data >>= 1;
    crc >>= 1;
    if (carry) crc ^= 0xA001;
  }
  return crc;
}

static uint16_t crc_u16(uint16_t v, uint16_t crc) {
  crc = crc_u8((uint8_t)v, crc);
  return crc_u8((uint8_t)(v >> 8), crc);
}

static uint16_t crc_u32(uint32_t v, uint16_t crc) {
  crc = crc_u16((uint16_t)v, crc);
  return crc_u16((uint16_t)(v >> 16), crc);
}

/* ---- linked list ---- */

typedef struct list_node {
  struct list_node *next;
  int16_t data; /* bits 0-7: key the finds look for; bits 8-15: payload */
  int16_t idx;  /* position in the initial list */
} list_node;

typedef int (*list_cmp)(const list_node *, const list_node *);

static list_node nodes[LIST_NODES];

static list_node *list_init(uint32_t seed) {
  for (int i = 0; i < LIST_NODES; i++) {
    nodes[i].idx = (int16_t)i;
    nodes[i].data = (int16_t)(kernel_rand(&seed) & 0x7fff);
    nodes[i].next = i + 1 < LIST_NODES ? &nodes[i + 1] : 0;
  }
  return &nodes[0];
}

static list_node *list_find_key(list_node *l, int key) {
  while (l && (l->data & 0xff) != key) l = l->next;
  return l;
}

static list_node *list_find_idx(list_node *l, int idx) {
  while (l && l->idx != idx) l = l->next;
  return l;
}

static list_node *list_reverse(list_node *l) {
  list_node *prev = 0;
  while (l) {
    list_node *next = l->next;
    l->next = prev;
    prev = l;
    l = next;
  }
  return prev;
}

/* A value that takes some computing, like CoreMark's cmp_complex. */
static int node_value(const list_node *n) {
  uint16_t d = (uint16_t)n->data;
  uint16_t v = (uint16_t)(d ^ (d >> 5) ^ (d << 3));
  v = (uint16_t)(v * 0x9E37u + 0x79B9u);
  return v >> 4;
}

static int cmp_value(const list_node *a, const list_node *b) {
  return node_value(a) - node_value(b);
}

static int cmp_idx(const list_node *a, const list_node *b) { return a->idx - b->idx; }

/* Bottom-up merge sort of a singly linked list: stable, no recursion. */
static list_node *list_sort(list_node *l, list_cmp cmp) {
  for (int width = 1;; width *= 2) {
    list_node *p = l, *tail = 0;
    int merges = 0;
    l = 0;
    while (p) {
      merges++;
      list_node *q = p;
      int psize = 0;
      for (int i = 0; i < width && q; i++) {
        psize++;
        q = q->next;
      }
      int qsize = width;
      while (psize > 0 || (qsize > 0 && q)) {
        list_node *e;
        if (psize == 0) {
          e = q;
          q = q->next;
          qsize--;
        } else if (qsize == 0 || !q || cmp(p, q) <= 0) {
          e = p;
          p = p->next;
          psize--;
        } else {
          e = q;
          q = q->next;
          qsize--;
        }
        if (tail)
          tail->next = e;
        else
          l = e;
        tail = e;
      }
      p = q;
    }
    tail->next = 0;
    if (merges <= 1) return l;
  }
}

static uint16_t bench_list(list_node **head, int16_t seed, list_cmp by_value) {
  list_node *l = *head;
  int found = 0, missed = 0;
  int16_t ret = 0;
  for (int i = 0; i < LIST_FINDS; i++) {
    int key = (seed + i * 37) & 0xff;
    list_node *f = list_find_key(l, key);
    l = list_reverse(l);
    if (!f) {
      missed++;
      ret = (int16_t)(ret + ((l->next->data >> 8) & 1));
    } else {
      found++;
      if (f->data & 1) ret = (int16_t)(ret + ((f->data >> 9) & 1));
      if (f->next) { /* move the successor to the head */
        list_node *t = f->next;
        f->next = t->next;
        t->next = l;
        l = t;
      }
    }
  }
  ret = (int16_t)(ret + found * 4 - missed);
  l = list_sort(l, by_value);

  /* take the second node out, look for another, put it back */
  list_node *removed = l->next;
  l->next = removed->next;
  uint16_t crc = 0;
  for (list_node *f = list_find_idx(l, (uint16_t)seed % LIST_NODES); f; f = f->next)
    crc = crc_u16((uint16_t)f->data, crc);
  removed->next = l->next;
  l->next = removed;

  l = list_sort(l, cmp_idx);
  for (list_node *n = l; n; n = n->next) {
    crc = crc_u16((uint16_t)n->data, crc);
    n->data = (int16_t)(n->data + (crc & 7)); /* next iteration sorts anew */
  }
  *head = l;
  return crc_u16((uint16_t)ret, crc);
}

/* ---- matrices ---- */

static int16_t mat_a[MAT_N * MAT_N], mat_b[MAT_N * MAT_N];
static int32_t mat_c[MAT_N * MAT_N];

static void matrix_init(uint32_t seed) {
  for (int i = 0; i < MAT_N * MAT_N; i++) {
    mat_a[i] = (int16_t)((kernel_rand(&seed) & 0xffff) % 2047 - 1023);
    mat_b[i] = (int16_t)((kernel_rand(&seed) & 0xffff) % 2047 - 1023);
  }
}

/* Sum with clipping: counts rises and clip events, as CoreMark's matrix_sum. */
static int16_t matrix_sum(const int32_t *c, int32_t clip) {
  int32_t tmp = 0, prev = 0;
  int16_t ret = 0;
  for (int i = 0; i < MAT_N * MAT_N; i++) {
    int32_t cur = c[i];
    tmp += cur;
    if (tmp > clip) {
      ret = (int16_t)(ret + 10);
      tmp = 0;
    } else {
      ret = (int16_t)(ret + (cur > prev ? 1 : 0));
    }
    prev = cur;
  }
  return ret;
}

static void matrix_add_const(int16_t *a, int16_t v) {
  for (int i = 0; i < MAT_N * MAT_N; i++) a[i] = (int16_t)(a[i] + v);
}

static void matrix_mul_const(int32_t *c, const int16_t *a, int16_t v) {
  for (int i = 0; i < MAT_N * MAT_N; i++) c[i] = (int32_t)a[i] * v;
}

static void matrix_mul_vect(int32_t *c, const int16_t *a, const int16_t *v) {
  for (int i = 0; i < MAT_N; i++) {
    int32_t s = 0;
    for (int j = 0; j < MAT_N; j++) s += (int32_t)a[i * MAT_N + j] * v[j];
    c[i] = s;
  }
}

static void matrix_mul_matrix(int32_t *c, const int16_t *a, const int16_t *b) {
  for (int i = 0; i < MAT_N; i++)
    for (int j = 0; j < MAT_N; j++) {
      int32_t s = 0;
      for (int k = 0; k < MAT_N; k++) s += (int32_t)a[i * MAT_N + k] * b[k * MAT_N + j];
      c[i * MAT_N + j] = s;
    }
}

#define BITS(x, lo, n) (((x) >> (lo)) & ((1 << (n)) - 1))

static void matrix_mul_bitextract(int32_t *c, const int16_t *a, const int16_t *b) {
  for (int i = 0; i < MAT_N; i++)
    for (int j = 0; j < MAT_N; j++) {
      int32_t s = 0;
      for (int k = 0; k < MAT_N; k++) {
        int32_t p = (int32_t)a[i * MAT_N + k] * b[k * MAT_N + j];
        s += BITS(p, 2, 4) * BITS(p, 5, 7);
      }
      c[i * MAT_N + j] = s;
    }
}

static uint16_t bench_matrix(int16_t seed, uint16_t crc) {
  int16_t v = (int16_t)(seed | 0xf000); /* small negative constant */
  int32_t clip = 0x7fffff;
  matrix_add_const(mat_a, v);
  matrix_mul_const(mat_c, mat_a, v);
  crc = crc_u16((uint16_t)matrix_sum(mat_c, clip), crc);
  matrix_mul_vect(mat_c, mat_a, mat_b);
  crc = crc_u16((uint16_t)matrix_sum(mat_c, clip), crc);
  matrix_mul_matrix(mat_c, mat_a, mat_b);
  crc = crc_u16((uint16_t)matrix_sum(mat_c, clip), crc);
  matrix_mul_bitextract(mat_c, mat_a, mat_b);
  crc = crc_u16((uint16_t)matrix_sum(mat_c, clip), crc);
  matrix_add_const(mat_a, (int16_t)-v); /* back to the start */
  return crc;
}

/* ---- state machine over a string of numbers ---- */

enum { ST_START, ST_INVALID, ST_S1, ST_S2, ST_INT, ST_FLOAT, ST_EXPONENT, ST_SCIENTIFIC, ST_COUNT };

static uint8_t text[STATE_BYTES];

static const char *const samples[] = {
    "5012", "1234", "-874", "+122", "35.54400", ".1234500", "-110.700", "+0.64400",
    "5.500e+3", "-.123e-2", "-87e+832", "+0.6e-12", "T0.3e-1F", "-T.T++Tq", "1T3.4e4z", "34.0e-T^",
};

static void state_init(uint32_t seed) {
  int pos = 0;
  for (;;) {
    const char *s = samples[kernel_rand(&seed) % 16];
    int len = 0;
    while (s[len]) len++;
    if (pos + len + 1 >= STATE_BYTES) break;
    for (int i = 0; i < len; i++) text[pos++] = (uint8_t)s[i];
    text[pos++] = ',';
  }
  while (pos < STATE_BYTES) text[pos++] = 0;
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* Classifies one token starting at *p; advances *p past its comma. Counts
 * every state change in transitions[]. */
static int state_token(const uint8_t **p, const uint8_t *end, uint32_t *transitions) {
  int st = ST_START;
  const uint8_t *s = *p;
  while (s < end && *s && st != ST_INVALID) {
    uint8_t c = *s++;
    if (c == ',') break;
    int next = st;
    switch (st) {
    case ST_START:
      if (is_digit(c)) next = ST_INT;
      else if (c == '+' || c == '-') next = ST_S1;
      else if (c == '.') next = ST_FLOAT;
      else next = ST_INVALID;
      break;
    case ST_S1:
      if (is_digit(c)) next = ST_INT;
      else if (c == '.') next = ST_FLOAT;
      else next = ST_INVALID;
      break;
    case ST_INT:
      if (c == '.') next = ST_FLOAT;
      else if (!is_digit(c)) next = ST_INVALID;
      break;
    case ST_FLOAT:
      if (c == 'E' || c == 'e') next = ST_S2;
      else if (!is_digit(c)) next = ST_INVALID;
      break;
    case ST_S2:
      next = (c == '+' || c == '-') ? ST_EXPONENT : ST_INVALID;
      break;
    case ST_EXPONENT:
      next = is_digit(c) ? ST_SCIENTIFIC : ST_INVALID;
      break;
    case ST_SCIENTIFIC:
      if (!is_digit(c)) next = ST_INVALID;
      break;
    }
    if (next != st) transitions[st]++;
    st = next;
  }
  if (st == ST_INVALID) /* skip the rest of an invalid token */
    while (s < end && *s && *s++ != ',') {
    }
  *p = s;
  return st;
}

static uint16_t state_scan(uint16_t crc) {
  uint32_t finals[ST_COUNT] = {0}, transitions[ST_COUNT] = {0};
  const uint8_t *p = text, *end = text + STATE_BYTES;
  while (p < end && *p) finals[state_token(&p, end, transitions)]++;
  for (int i = 0; i < ST_COUNT; i++) {
    crc = crc_u32(finals[i], crc);
    crc = crc_u32(transitions[i], crc);
  }
  return crc;
}

static uint16_t bench_state(int16_t seed, uint16_t crc) {
  crc = state_scan(crc);
  int step = 3 + ((uint16_t)seed & 7);
  uint8_t x = (uint8_t)(seed | 1);
  for (int i = 0; i < STATE_BYTES; i += step)
    if (text[i] != ',' && text[i]) text[i] ^= x; /* corrupt */
  crc = state_scan(crc);
  for (int i = 0; i < STATE_BYTES; i += step)
    if (text[i] != ',' && text[i]) text[i] ^= x; /* and repair */
  return crc;
}

KERNEL_EXPORT int run(void) {
  list_node *list = list_init(0x3415u);
  matrix_init(0x66u);
  state_init(0x1234u);
  list_cmp by_value = cmp_value;
  int n = OPAQUE(iterations);
  uint16_t crc = 0;
  uint32_t sum = 0;
  for (int it = 0; it < n; it++) {
    int16_t seed = (int16_t)(crc ^ (uint16_t)it);
    crc = bench_list(&list, seed, by_value);
    crc = bench_matrix((int16_t)(seed + 1), crc);
    crc = bench_state((int16_t)(seed + 2), crc);
    sum = sum * 31 + crc;
  }
  return (int)sum;
}
