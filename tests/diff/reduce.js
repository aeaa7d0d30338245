#!/usr/bin/env node
// reduce.js — shrinks a module on which wagi-c and V8 (or the interpreter
// and native code) disagree, keeping the same disagreement.
//
//   node tests/diff/reduce.js MODULE.wasm [--against v8|aot] [-o OUT.wasm]
//   node tests/diff/reduce.js MODULE.wasm --test 'CMD {}'
//
// npm binaryen's wasm-reduce cannot run a command (the Emscripten build has
// no processes: it stops with "null function or function signature
// mismatch"), so this does a smaller version of its work on binaryen.js
// (the same npm package): remove exports, replace function bodies with
// `unreachable`, remove block children, run shrinking passes, and keep
// each change after which the test still says "interesting". The default
// test is `fuzz_diff.py --module CANDIDATE --expect SIG`, where SIG is the
// original module's first disagreement (which side, and the kinds of the
// two differing lines, e.g. "V8:trap/trap"); with --test, CMD (with {} for
// the candidate's path) is interesting when it exits with status 1.
// Writes OUT.wasm (default MODULE.reduced.wasm) and its text beside it.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const FEATURES = ['--enable-simd', '--enable-bulk-memory', '--enable-sign-ext',
  '--enable-nontrapping-float-to-int', '--enable-multivalue'];

function usage() {
  process.stderr.write('usage: reduce.js MODULE.wasm [--against v8|aot] [--test CMD] [-o OUT.wasm]\n');
  process.exit(2);
}

async function main() {
  const argv = process.argv.slice(2);
  let input = null, against = 'v8', testCmd = null, output = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--against') against = argv[++i];
    else if (argv[i] === '--test') testCmd = argv[++i];
    else if (argv[i] === '-o') output = argv[++i];
    else if (!input) input = argv[i];
    else usage();
  }
  if (!input || !['v8', 'aot'].includes(against)) usage();
  output = output || input.replace(/\.wasm$/, '') + '.reduced.wasm';
  let binaryen;
  try {
    binaryen = require(path.join(ROOT, 'node', 'node_modules', 'binaryen'));
    if (binaryen.default) binaryen = binaryen.default;
    if (binaryen.ready) await binaryen.ready;
  } catch (e) {
    binaryen = (await import(path.join(ROOT, 'node', 'node_modules', 'binaryen', 'index.js'))).default;
  }
  const features = binaryen.Features.MVP | binaryen.Features.SIMD128 | binaryen.Features.BulkMemory | (binaryen.Features.BulkMemoryOpt || 0) |
    binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.Multivalue |
    binaryen.Features.ReferenceTypes | (binaryen.Features.CallIndirectOverlong || 0) |
    binaryen.Features.MutableGlobals;

  const work = fs.mkdtempSync(path.join(path.dirname(path.resolve(output)), '.reduce-'));
  const cand = path.join(work, 'candidate.wasm');
  const py = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const fuzzDiff = path.join(ROOT, 'tests', 'diff', 'fuzz_diff.py');

  let interesting;
  if (testCmd) {
    interesting = (file) => spawnSync('sh', ['-c', testCmd.split('{}').join(`'${file}'`)], { stdio: 'ignore' }).status === 1;
  } else {
    const sig = execFileSync(py, [fuzzDiff, '--module', input, '--against', against, '--signature'],
      { encoding: 'utf8' }).trim().split('\n').pop();
    if (sig === 'agree') {
      process.stderr.write(`reduce.js: ${input}: the interpreter and ${against} agree: nothing to reduce\n`);
      process.exit(1);
    }
    process.stdout.write(`disagreement to keep: ${sig}\n`);
    interesting = (file) => spawnSync(py, [fuzzDiff, '--module', file, '--against', against, '--expect', sig],
      { stdio: 'ignore' }).status === 1;
  }

  let best = new Uint8Array(fs.readFileSync(input));
  if (!testCmd && !interesting(input)) {
    process.stderr.write('reduce.js: the disagreement does not repeat; nothing to reduce\n');
    process.exit(1);
  }
  const read = () => {
    const m = binaryen.readBinary(best);
    m.setFeatures(features);
    return m;
  };
  let tried = 0, kept = 0;
  // Applies `change` to a fresh copy of the best module; keeps the result
  // when it is valid, smaller or simpler, and still interesting.
  function attempt(change) {
    const m = read();
    let ok = false;
    try {
      if (change(m) === false) return false;
      if (!m.validate()) return false;
      const bytes = m.emitBinary();
      if (bytes.length > best.length) return false;
      if (bytes.length === best.length && Buffer.compare(Buffer.from(bytes), Buffer.from(best)) === 0) return false;
      tried++;
      fs.writeFileSync(cand, bytes);
      if (interesting(cand)) {
        best = new Uint8Array(bytes);
        kept++;
        ok = true;
      }
    } finally {
      m.dispose();
    }
    return ok;
  }

  // children of block-like expressions in a function body, as paths of
  // (block expression, child index) found by walking blocks, loops and ifs
  function blocksOf(expr, out) {
    if (!expr) return out;
    const id = binaryen.getExpressionId(expr);
    if (id === binaryen.BlockId) {
      out.push(expr);
      const n = binaryen.Block.getNumChildren(expr);
      for (let i = 0; i < n; i++) blocksOf(binaryen.Block.getChildAt(expr, i), out);
    } else if (id === binaryen.LoopId) blocksOf(binaryen.Loop.getBody(expr), out);
    else if (id === binaryen.IfId) {
      blocksOf(binaryen.If.getIfTrue(expr), out);
      blocksOf(binaryen.If.getIfFalse(expr), out);
    }
    return out;
  }

  const quiet = (f) => {
    // binaryen.js prints validation errors; they are expected here
    const w = process.stdout.write, e = process.stderr.write;
    process.stdout.write = process.stderr.write = () => true;
    try {
      return f();
    } finally {
      process.stdout.write = w;
      process.stderr.write = e;
    }
  };

  // The module's text as a tree of parenthesised forms: [start, end, head,
  // children] (strings and comments skipped).
  function formsOf(text) {
    const root = { start: 0, end: text.length, head: '', kids: [] };
    const stack = [root];
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      } else if (c === ';' && text[i + 1] === ';') {
        while (i < text.length && text[i] !== '\n') i++;
      } else if (c === '(') {
        const m = /^[^\s()]*/.exec(text.slice(i + 1, i + 64));
        const f = { start: i, end: -1, head: m[0], kids: [] };
        stack[stack.length - 1].kids.push(f);
        stack.push(f);
      } else if (c === ')' && stack.length > 1) {
        stack.pop().end = i + 1;
      }
    }
    return root;
  }
  const STRUCTURAL = new Set(['func', 'param', 'result', 'local', 'type', 'export', 'import', 'then',
    'else', 'module', 'memory', 'data', 'table', 'elem', 'global', 'start', 'mut', 'ref', 'item',
    'offset', 'tag', 'rec', 'sub', 'field', 'struct', 'array', 'shared']);
  // instruction forms inside functions, largest first
  function instructionForms(text) {
    const out = [];
    const walk = (f, inFunc) => {
      for (const k of f.kids) {
        if (inFunc && !STRUCTURAL.has(k.head) && !k.head.startsWith('$')) out.push(k);
        walk(k, inFunc || k.head === 'func');
      }
    };
    walk(formsOf(text), false);
    return out.sort((a, b) => (b.end - b.start) - (a.end - a.start));
  }
  // Replaces instruction forms with (unreachable), (nop) or one of their
  // own operands, in text, keeping each valid and interesting change.
  function reduceText(limit) {
    let changed = true;
    while (changed && limit > 0) {
      changed = false;
      const m0 = read();
      const text = m0.emitText();
      m0.dispose();
      for (const f of instructionForms(text)) {
        const subs = ['(unreachable)', '(nop)', ...f.kids.filter((k) => !STRUCTURAL.has(k.head)).map((k) => text.slice(k.start, k.end))];
        for (const sub of subs) {
          // only strictly shorter text, so that no two changes undo each other
          if (sub.length >= f.end - f.start) continue;
          if (--limit <= 0) return;
          const candidate = text.slice(0, f.start) + sub + text.slice(f.end);
          let m;
          try {
            m = binaryen.parseText(candidate);
          } catch (e) {
            continue;
          }
          let ok = false;
          try {
            m.setFeatures(features);
            if (m.validate()) {
              const bytes = m.emitBinary();
              if (bytes.length <= best.length) {
                tried++;
                fs.writeFileSync(cand, bytes);
                if (interesting(cand)) {
                  best = new Uint8Array(bytes);
                  kept++;
                  ok = true;
                }
              }
            }
          } finally {
            m.dispose();
          }
          if (ok) {
            changed = true;
            break;
          }
        }
        if (changed) break;
      }
    }
  }

  const passes = [['remove-unused-module-elements'], ['dce'], ['vacuum'], ['remove-unused-brs'],
    ['merge-blocks'], ['simplify-locals'], ['precompute'], ['optimize-instructions'],
    ['coalesce-locals'], ['remove-unused-names'], ['reorder-locals'], ['simplify-globals'],
    ['inlining-optimizing'], ['remove-unused-module-elements']];

  for (let round = 0; round < 4; round++) {
    const before = best.length;
    quiet(() => {
      // exports, last first (indices stay valid for the ones before)
      for (let i = read().getNumExports() - 1; i >= 0; i--) {
        attempt((m) => {
          const e = binaryen.getExportInfo(m.getExportByIndex(i));
          m.removeExport(e.name);
        });
      }
      for (const p of passes) attempt((m) => m.runPasses(p));
      attempt((m) => {
        binaryen.setShrinkLevel(2);
        binaryen.setOptimizeLevel(1);
        m.optimize();
      });
      // function bodies -> unreachable
      for (let i = read().getNumFunctions() - 1; i >= 0; i--) {
        attempt((m) => {
          const f = m.getFunctionByIndex(i);
          const info = binaryen.getFunctionInfo(f);
          if (!info.body) return false;
          if (binaryen.getExpressionId(info.body) === binaryen.UnreachableId) return false;
          binaryen.Function.setBody(f, m.unreachable());
        });
      }
      // block children, from the end of each block
      for (let fi = read().getNumFunctions() - 1; fi >= 0; fi--) {
        const nblocks = (() => {
          const m = read();
          const info = binaryen.getFunctionInfo(m.getFunctionByIndex(fi));
          const n = info.body ? blocksOf(info.body, []).length : 0;
          m.dispose();
          return n;
        })();
        for (let bi = 0; bi < nblocks; bi++) {
          for (let ci = 0; ; ci++) {
            let nchildren = 0;
            const kept = attempt((m) => {
              const info = binaryen.getFunctionInfo(m.getFunctionByIndex(fi));
              const blocks = info.body ? blocksOf(info.body, []) : [];
              if (bi >= blocks.length) return false;
              nchildren = binaryen.Block.getNumChildren(blocks[bi]);
              if (ci >= nchildren) return false;
              binaryen.Block.removeChildAt(blocks[bi], ci);
            });
            if (kept) ci--;
            else if (ci >= nchildren) break;
          }
        }
      }
      for (const p of passes) attempt((m) => m.runPasses(p));
    });
    process.stdout.write(`round ${round + 1}: ${best.length} bytes (${kept} changes kept of ${tried} tried)\n`);
    if (best.length >= before) break;
  }
  // then expression by expression in the text (slower: one try per form)
  quiet(() => reduceText(3000));
  quiet(() => {
    for (const p of passes) attempt((m) => m.runPasses(p));
  });
  process.stdout.write(`expressions: ${best.length} bytes (${kept} changes kept of ${tried} tried)\n`);
  fs.writeFileSync(output, best);
  const m = read();
  fs.writeFileSync(output.replace(/\.wasm$/, '') + '.wat', m.emitText());
  m.dispose();
  fs.rmSync(work, { recursive: true, force: true });
  process.stdout.write(`wrote ${output} (${best.length} bytes) and its text\n`);
}

main().catch((e) => {
  process.stderr.write('reduce.js: ' + (e && e.stack) + '\n');
  process.exit(2);
});
