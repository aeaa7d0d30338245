#!/usr/bin/env node
// v8run.js — runs a binaryen fuzz module on Node's V8 the way
// tests/aot/diffrun.c runs it on wagi-c, and prints the very same lines (see
// the comment at the top of diffrun.c): logged values, "call NAME",
// "result V...", "trap KIND in function N at 0xOFFSET", the nested
// call-export lines, "output limit reached" after 20000 lines.
//
//   node tests/diff/v8run.js MODULE.wasm     one module
//   node tests/diff/v8run.js --serve         module paths on stdin, one a
//        line; each module's output is followed by the line "=== end ==="
//        (one process for many modules: Node's startup costs more than most
//        modules take to run)
//
// JavaScript cannot pass a v128 across the JS boundary, so the log-v128
// import and exports whose signature has a v128 are called through small
// adapter modules built here (wasm-to-wasm calls carry v128; the adapter
// hands JavaScript the four i32 lanes). Adapter modules are named
// "wagiadapter" so that their frames are skipped when a trap's place is
// read from the stack. Plain CommonJS, Node 18 and later.
'use strict';
const fs = require('fs');
const onStdinLines = require('./stdin_lines');

const MAX_LINES = 20000;
const END_MARK = '=== end ===';

// ---- value formatting, exactly as diffrun's printf ----------------------

const f64buf = new DataView(new ArrayBuffer(8));

// C's printf("%.{p}g", x) for a finite double, computed exactly with BigInt
// (round half to even on the exact binary value, as glibc does).
function formatG(x, p) {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const neg = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  if (ax === 0) return neg ? '-0' : '0';
  f64buf.setFloat64(0, ax);
  const bits = f64buf.getBigUint64(0);
  const bexp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e2;
  if (bexp === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = bexp - 1075;
  }
  // ax = num / den exactly
  let num = e2 >= 0 ? mant << BigInt(e2) : mant;
  let den = e2 >= 0 ? 1n : 1n << BigInt(-e2);
  // decimal exponent d with 10^d <= ax < 10^(d+1)
  let d = Math.floor(Math.log10(ax));
  const pow10 = (k) => 10n ** BigInt(k);
  const ge = (k) => (k >= 0 ? num >= den * pow10(k) : num * pow10(-k) >= den);
  while (!ge(d)) d--;
  while (ge(d + 1)) d++;
  // q = round(ax * 10^(p-1-d)) to an integer of p digits
  const shift = p - 1 - d;
  let n2 = num, d2 = den;
  if (shift >= 0) n2 = num * pow10(shift);
  else d2 = den * pow10(-shift);
  let q = n2 / d2;
  const r = n2 - q * d2;
  if (2n * r > d2 || (2n * r === d2 && (q & 1n) === 1n)) q += 1n;
  if (q === pow10(p)) {
    q /= 10n;
    d += 1;
  }
  const digits = q.toString();
  let s;
  if (d < -4 || d >= p) {
    const rest = digits.slice(1).replace(/0+$/, '');
    const ex = Math.abs(d) < 10 ? '0' + Math.abs(d) : String(Math.abs(d));
    s = digits[0] + (rest ? '.' + rest : '') + 'e' + (d < 0 ? '-' : '+') + ex;
  } else if (d >= 0) {
    const ip = digits.slice(0, d + 1);
    const fp = digits.slice(d + 1).replace(/0+$/, '');
    s = ip + (fp ? '.' + fp : '');
  } else {
    s = ('0.' + '0'.repeat(-d - 1) + digits).replace(/0+$/, '');
  }
  return (neg ? '-' : '') + s;
}

const fmtF32 = (x) => formatG(x, 9);
const fmtF64 = (x) => formatG(x, 17);

function hexLanes(lanes) {
  // four i32 lanes, little-endian bytes in memory order
  let s = '';
  for (const lane of lanes) {
    const u = lane >>> 0;
    for (let b = 0; b < 4; b++) s += ((u >>> (8 * b)) & 0xff).toString(16).padStart(2, '0');
  }
  return s;
}

// ---- reading the module's types and exports -----------------------------

const VT = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

class Reader {
  constructor(bytes, pos, end) {
    this.b = bytes;
    this.p = pos;
    this.end = end;
  }
  byte() {
    if (this.p >= this.end) throw new Error('truncated module');
    return this.b[this.p++];
  }
  u32() {
    let r = 0, shift = 0, c;
    do {
      c = this.byte();
      r += (c & 0x7f) * 2 ** shift;
      shift += 7;
    } while (c & 0x80);
    return r;
  }
  name() {
    const n = this.u32();
    const s = Buffer.from(this.b.subarray(this.p, this.p + n)).toString('utf8');
    this.p += n;
    return s;
  }
  valtype() {
    const t = this.byte();
    if (!(t in VT)) throw new Error('unsupported value type 0x' + t.toString(16));
    return VT[t];
  }
  limits() {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

// A constant expression (global initialisers): its instructions up to end.
function skipConstExpr(r) {
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) return;
    if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) r.u32(); // LEB: i32/i64.const, global.get, ref.func
    else if (op === 0x43) r.p += 4;
    else if (op === 0x44) r.p += 8;
    else if (op === 0xd0) r.byte();
    else if (op === 0xfd) {
      if (r.u32() === 12) r.p += 16; // v128.const
    } else if (op >= 0x6a && op <= 0x6c) continue; // extended-const arithmetic
    else if (op >= 0x7c && op <= 0x7e) continue;
    else throw new Error('unsupported constant instruction 0x' + op.toString(16));
  }
}

// { funcTypes: [{params, results}] by function index, exports: [{name, kind, index}] }
function readModule(bytes) {
  const types = [], funcTypes = [], exports = [], globalImports = [], funcImports = [], globalTypes = [];
  let p = 8;
  while (p < bytes.length) {
    const id = bytes[p];
    const hdr = new Reader(bytes, p + 1, bytes.length);
    const size = hdr.u32();
    const r = new Reader(bytes, hdr.p, hdr.p + size);
    p = hdr.p + size;
    if (id === 1) {
      for (let n = r.u32(); n > 0; n--) {
        const form = r.byte();
        if (form !== 0x60) throw new Error('unsupported type form 0x' + form.toString(16));
        const params = [], results = [];
        for (let k = r.u32(); k > 0; k--) params.push(r.valtype());
        for (let k = r.u32(); k > 0; k--) results.push(r.valtype());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        if (kind === 0) {
          funcTypes.push(types[r.u32()]);
          funcImports.push({ module, name, sig: funcTypes[funcTypes.length - 1] });
        } else if (kind === 1) {
          r.byte();
          r.limits();
        } else if (kind === 2) r.limits();
        else if (kind === 3) {
          const type = r.valtype();
          globalImports.push({ module, name, type, mutable: r.byte() === 1 });
          globalTypes.push(type);
        } else r.u32();
      }
    } else if (id === 3) {
      for (let n = r.u32(); n > 0; n--) funcTypes.push(types[r.u32()]);
    } else if (id === 6) {
      // only the types (read before the initialiser, which is skipped)
      const n = r.u32();
      for (let k = 0; k < n; k++) {
        globalTypes.push(r.valtype());
        r.byte();
        skipConstExpr(r);
      }
    } else if (id === 7) {
      for (let n = r.u32(); n > 0; n--) {
        const name = r.name();
        const kind = r.byte();
        exports.push({ name, kind, index: r.u32() });
      }
    }
  }
  return { funcTypes, exports, globalImports, funcImports, globalTypes };
}

// ---- adapter modules -----------------------------------------------------

const TYPE_BYTE = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b, funcref: 0x70, externref: 0x6f };

function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const vec = (items) => [...uleb(items.length), ...items.flat()];
const str = (s) => vec([...Buffer.from(s, 'utf8')]);
const section = (id, body) => [id, ...uleb(body.length), ...body];
const functype = (params, results) => [0x60, ...vec(params.map((t) => TYPE_BYTE[t])), ...vec(results.map((t) => TYPE_BYTE[t]))];
const nameSection = () => {
  const sub = [0, ...str('wagiadapter')]; // subsection 0: module name
  const body = [...str('name'), 0, ...uleb(sub.length - 1), ...sub.slice(1)];
  return section(0, body);
};

function zeroConst(t) {
  switch (t) {
    case 'i32': return [0x41, 0];
    case 'i64': return [0x42, 0];
    case 'f32': return [0x43, 0, 0, 0, 0];
    case 'f64': return [0x44, 0, 0, 0, 0, 0, 0, 0, 0];
    case 'v128': return [0xfd, 0x0c, ...new Array(16).fill(0)];
    default: return [0xd0, TYPE_BYTE[t]];
  }
}

const splitV128 = (types) => types.flatMap((t) => (t === 'v128' ? ['i32', 'i32', 'i32', 'i32'] : [t]));

// A module exporting "f": () -> results with each v128 split into four
// i32s, which calls the imported "m" "f" (params) -> (results) with zeros.
// Compiled once per signature.
const callerAdapters = new Map();
function callerAdapter(sig) {
  const key = sig.params.join(',') + '->' + sig.results.join(',');
  if (!callerAdapters.has(key)) callerAdapters.set(key, buildCallerAdapter(sig));
  return callerAdapters.get(key);
}
function buildCallerAdapter(sig) {
  const flat = splitV128(sig.results);
  const code = [];
  for (const t of sig.params) code.push(...zeroConst(t));
  code.push(0x10, 0);
  const n = sig.results.length;
  for (let k = n - 1; k >= 0; k--) code.push(0x21, ...uleb(k));
  for (let k = 0; k < n; k++) {
    if (sig.results[k] === 'v128') {
      for (let lane = 0; lane < 4; lane++) code.push(0x20, ...uleb(k), 0xfd, 0x1b, lane);
    } else code.push(0x20, ...uleb(k));
  }
  code.push(0x0b);
  const locals = vec(sig.results.map((t) => [1, TYPE_BYTE[t]]));
  const body = [...locals, ...code];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([functype(sig.params, sig.results), functype([], flat)])),
    ...section(2, vec([[...str('m'), ...str('f'), 0, 0]])),
    ...section(3, vec([[1]])),
    ...section(7, vec([[...str('f'), 0, 1]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
    ...nameSection(),
  ];
  return new WebAssembly.Module(new Uint8Array(bytes));
}

// A module exporting "log": (v128) -> () that calls the imported "m" "f"
// (i32, i32, i32, i32) -> () with the lanes.
let logV128Module = null;
function logV128Adapter(jsLog) {
  if (!logV128Module) {
    const code = [];
    for (let lane = 0; lane < 4; lane++) code.push(0x20, 0, 0xfd, 0x1b, lane);
    code.push(0x10, 0, 0x0b);
    const body = [0, ...code];
    const bytes = [
      0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
      ...section(1, vec([functype(['i32', 'i32', 'i32', 'i32'], []), functype(['v128'], [])])),
      ...section(2, vec([[...str('m'), ...str('f'), 0, 0]])),
      ...section(3, vec([[1]])),
      ...section(7, vec([[...str('log'), 0, 1]])),
      ...section(10, vec([[...uleb(body.length), ...body]])),
      ...nameSection(),
    ];
    logV128Module = new WebAssembly.Module(new Uint8Array(bytes));
  }
  return new WebAssembly.Instance(logV128Module, { m: { f: jsLog } }).exports.log;
}

// ---- traps ---------------------------------------------------------------

class OutputLimit {}
class HostError extends Error {}

// V8's trap messages and the engine status texts diffrun prints. V8 gives
// one message where wagi-c has two kinds; those print both, separated by
// "|", and the comparison accepts either (tests/diff/README.md).
const V8_TRAPS = new Map([
  ['unreachable', 'unreachable'],
  ['memory access out of bounds', 'out of bounds memory access'],
  ['divide by zero', 'integer divide by zero'],
  ['remainder by zero', 'integer divide by zero'],
  ['divide result unrepresentable', 'integer overflow'],
  ['float unrepresentable in integer range', 'integer overflow|invalid conversion to integer'],
  ['table index is out of bounds', 'undefined element|out of bounds table access'],
  ['table access out of bounds', 'out of bounds table access'],
  ['null function or function signature mismatch', 'uninitialized element|indirect call type mismatch'],
  ['data segment out of bounds', 'out of bounds memory access'],
  ['element segment out of bounds', 'out of bounds table access'],
]);

// Called deep in the stack too (call-export-catch when the stack ran out):
// nothing here may need much stack, so no regular expressions.
function trapKind(e) {
  if (e instanceof HostError) return 'host error';
  const msg = String(e && e.message);
  if (e instanceof WebAssembly.RuntimeError && V8_TRAPS.has(msg)) return V8_TRAPS.get(msg);
  if (msg.indexOf('Maximum call stack size exceeded') >= 0) return 'call stack exhausted';
  return 'v8 ' + (e && e.name) + ': ' + msg;
}

// The innermost frame of the fuzz module: "wasm-function[N]:0xOFF" in a
// script that is not one of the adapters.
function trapPlace(e) {
  const stack = String((e && e.stack) || '');
  for (const line of stack.split('\n')) {
    if (line.includes('wagiadapter')) continue;
    const m = /wasm:\/\/wasm\/[^:]*:wasm-function\[(\d+)\]:0x([0-9a-f]+)/.exec(line);
    if (m) return ' in function ' + m[1] + ' at 0x' + m[2];
  }
  return '';
}

// ---- running a module ----------------------------------------------------

function formatValue(t, v) {
  if (t === 'i32' || t === 'i64') return ' ' + t + ':' + v;
  if (t === 'f32') return ' f32:' + fmtF32(v);
  if (t === 'f64') return ' f64:' + fmtF64(v);
  if (t === 'v128') return ' v128:' + hexLanes(v);
  return ' ref:' + (v === null || v === undefined ? 'null' : 'non-null');
}

function runModule(bytes) {
  const lines = [];
  const out = (s) => {
    lines.push(s);
    if (lines.length >= MAX_LINES) {
      lines.push('output limit reached');
      throw new OutputLimit();
    }
  };
  let mod, info;
  try {
    mod = new WebAssembly.Module(bytes);
    info = readModule(bytes);
  } catch (e) {
    return { lines, loadError: String(e && e.message) };
  }
  const funcExports = info.exports.filter((x) => x.kind === 0);
  let exportsObj = null;
  const callers = new Map();

  // A JavaScript function calling wasm function `fn` of type `sig` with
  // zero arguments; its results as [type, value] pairs.
  function callerFor(fn, sig) {
    if (sig.params.length > 64 || sig.results.length > 64) return null;
    if (sig.params.includes('v128') || sig.results.includes('v128')) {
      const wrapped = new WebAssembly.Instance(callerAdapter(sig), { m: { f: fn } }).exports.f;
      return () => {
        let r = wrapped();
        const flat = splitV128(sig.results);
        if (flat.length === 1) r = [r];
        const vals = [];
        let k = 0;
        for (const t of sig.results) {
          if (t === 'v128') {
            vals.push([t, r.slice(k, k + 4)]);
            k += 4;
          } else vals.push([t, r[k++]]);
        }
        return vals;
      };
    }
    const args = sig.params.map((t) => (t === 'i64' ? 0n : t === 'funcref' || t === 'externref' ? null : 0));
    return () => {
      let r = fn(...args);
      if (sig.results.length === 1) r = [r];
      else if (sig.results.length === 0) r = [];
      return sig.results.map((t, k) => [t, r[k]]);
    };
  }

  function caller(x) {
    if (!callers.has(x.name)) callers.set(x.name, callerFor(exportsObj[x.name], info.funcTypes[x.index]));
    return callers.get(x.name);
  }

  // A funcref as JavaScript sees it: an exported function whose name is
  // its index in the module (JS API), which gives its type.
  function callRef(ref) {
    if (typeof ref !== 'function') throw new HostError('null funcref');
    const sig = importSigs.has(ref) ? importSigs.get(ref) : info.funcTypes[Number(ref.name)];
    const call = sig && callerFor(ref, sig);
    if (!call) throw new HostError('funcref of unknown type');
    call();
  }

  function exportedTable() {
    const t = exportsObj && exportsObj.table;
    if (!(t instanceof WebAssembly.Table)) throw new HostError('no table');
    return t;
  }

  function callNth(n) {
    const x = funcExports[n];
    // during instantiation (a start function) there are no exports yet
    if (!x || !exportsObj) throw new HostError('no export ' + n);
    const call = caller(x);
    if (!call) throw new HostError('too many parameters');
    call();
  }

  const imports = {
    'fuzzing-support': {
      'log-i32': (v) => out('log i32:' + v),
      'log-i64': (v) => out('log i64:' + v),
      'log-f32': (v) => out('log f32:' + fmtF32(v)),
      'log-f64': (v) => out('log f64:' + fmtF64(v)),
      'log-v128': logV128Adapter((a, b, c, d) => out('log v128:' + hexLanes([a, b, c, d]))),
      'call-export': (i) => {
        i >>>= 0;
        try {
          callNth(i);
        } catch (e) {
          if (!(e instanceof OutputLimit)) out('call-export ' + i + ': ' + trapKind(e));
          throw e;
        }
        out('call-export ' + i + ': ok');
      },
      'call-export-catch': (i) => {
        i >>>= 0;
        try {
          callNth(i);
        } catch (e) {
          if (e instanceof OutputLimit) throw e;
          out('call-export-catch ' + i + ': ' + trapKind(e));
          return 1;
        }
        out('call-export-catch ' + i + ': ok');
        return 0;
      },
      'call-ref': (ref) => {
        try {
          callRef(ref);
        } catch (e) {
          if (!(e instanceof OutputLimit)) out('call-ref: ' + trapKind(e));
          throw e;
        }
        out('call-ref: ok');
      },
      'call-ref-catch': (ref) => {
        try {
          callRef(ref);
        } catch (e) {
          if (e instanceof OutputLimit) throw e;
          out('call-ref-catch: ' + trapKind(e));
          return 1;
        }
        out('call-ref-catch: ok');
        return 0;
      },
      'table-get': (i) => {
        const t = exportedTable();
        i >>>= 0;
        if (i >= t.length) throw new HostError('table index');
        return t.get(i);
      },
      'table-set': (i, ref) => {
        const t = exportedTable();
        i >>>= 0;
        if (i >= t.length) throw new HostError('table index');
        t.set(i, ref);
      },
      sleep: (ms, id) => id,
    },
    __fuzz_import: {},
  };
  // imported functions (a funcref may name one) and their types
  const importSigs = new Map();
  for (const imp of info.funcImports) {
    const v = imports[imp.module] && imports[imp.module][imp.name];
    if (typeof v === 'function') importSigs.set(v, imp.sig);
  }
  // globals binaryen's reference-types modules import: zero or null
  for (const g of info.globalImports) {
    if (g.module !== '__fuzz_import') continue;
    const zero = g.type === 'i64' ? 0n : g.type === 'funcref' || g.type === 'externref' ? null : 0;
    imports.__fuzz_import[g.name] = g.mutable
      ? new WebAssembly.Global({ value: g.type === 'funcref' ? 'anyfunc' : g.type, mutable: true }, zero)
      : zero;
  }

  try {
    let inst;
    try {
      inst = new WebAssembly.Instance(mod, imports);
    } catch (e) {
      if (e instanceof OutputLimit) throw e;
      if (e instanceof WebAssembly.LinkError) out('instantiate: link error');
      else out('instantiate: ' + trapKind(e) + trapPlace(e));
      return { lines };
    }
    exportsObj = inst.exports;
    const hang = exportsObj.hangLimitInitializer;
    for (const x of funcExports) {
      if (x.name === 'hangLimitInitializer') continue;
      const call = caller(x);
      if (hang) {
        try {
          hang();
        } catch (e) {
          if (e instanceof OutputLimit) throw e;
        }
      }
      if (!call) continue;
      out('call ' + x.name);
      let vals;
      try {
        vals = call();
      } catch (e) {
        if (e instanceof OutputLimit) throw e;
        out('trap ' + trapKind(e) + trapPlace(e));
        continue;
      }
      out('result' + vals.map(([t, v]) => formatValue(t, v)).join(''));
    }
    // the state the calls leave: exported globals but v128 ones
    for (const x of info.exports) {
      if (x.kind !== 3) continue;
      const t = info.globalTypes[x.index];
      if (t === 'v128') continue;
      out('global ' + x.name + ':' + formatValue(t, exportsObj[x.name].value));
    }
  } catch (e) {
    if (!(e instanceof OutputLimit)) throw e;
  }
  return { lines };
}

// ---- main ----------------------------------------------------------------

Error.stackTraceLimit = 100;

function runFile(path) {
  const r = runModule(new Uint8Array(fs.readFileSync(path)));
  return r;
}

function main() {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && argv[0] !== '--serve') {
    let r;
    try {
      r = runFile(argv[0]);
    } catch (e) {
      process.stderr.write('v8run: ' + argv[0] + ': ' + (e && e.message) + '\n');
      process.exitCode = 2;
      return;
    }
    if (r.loadError !== undefined) {
      process.stderr.write('v8run: ' + r.loadError + '\n');
      process.stdout.write(r.lines.map((l) => l + '\n').join(''));
      process.exitCode = 2;
      return;
    }
    process.stdout.write(r.lines.map((l) => l + '\n').join(''));
    return;
  }
  if (argv.length !== 1) {
    process.stderr.write('usage: v8run.js MODULE.wasm | v8run.js --serve\n');
    process.exitCode = 2;
    return;
  }
  // --serve: one path per line on stdin
  onStdinLines((path) => {
    let text;
    try {
      const r = runFile(path);
      text = r.lines.map((l) => l + '\n').join('');
      if (r.loadError !== undefined) text += 'load error: ' + r.loadError + '\n';
    } catch (e) {
      text = 'v8run error: ' + (e && e.stack) + '\n';
    }
    fs.writeSync(1, text + END_MARK + '\n');
  });
}

if (require.main === module) main();
else module.exports = { formatG, runModule };
