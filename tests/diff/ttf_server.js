#!/usr/bin/env node
// ttf_server.js — npm binaryen's wasm-opt, loaded once, run many times.
// wasm-opt is C++ compiled to WebAssembly: starting it costs about a quarter
// of a second, more than translating a seed into a module. This keeps one
// instance and calls its main() for every request:
//   stdin:  one wasm-opt command line a line, arguments separated by tabs
//   stdout: "exit N" a line when that run ended (its own messages go to
//           stderr, as wasm-opt's do)
// fuzz_diff.py checks at start that a served run writes the same bytes as a
// fresh wasm-opt, and falls back to a process per module otherwise.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const onStdinLines = require('./stdin_lines');

const wasmOpt = process.argv[2];
if (!wasmOpt) {
  process.stderr.write('usage: ttf_server.js PATH/TO/wasm-opt\n');
  process.exit(2);
}
// The script is an Emscripten program; run it as a function whose Module
// parameter it picks up ("var Module = typeof Module != 'undefined' ? ..."),
// with main() held back, the runtime kept alive between runs, and callMain
// handed out.
let src = fs.readFileSync(wasmOpt, 'utf8').replace(/^#!.*\n/, '');
src += '\n;Module.wagiCallMain = callMain;';
const Module = { noInitialRun: true, noExitRuntime: true, arguments: [] };
let ready;
const readyP = new Promise((r) => (ready = r));
Module.onRuntimeInitialized = () => ready();
const real = path.resolve(wasmOpt);
const fn = vm.runInThisContext('(function (Module, require, __filename, __dirname, process) {' + src + '\n})', { filename: real });
fn(Module, require, fs.realpathSync(real), path.dirname(fs.realpathSync(real)), process);

readyP.then(() => {
  onStdinLines((line) => {
    let status;
    try {
      status = Module.wagiCallMain(line.split('\t'));
    } catch (e) {
      status = 'error ' + String(e && e.message).split('\n')[0];
    }
    process.exitCode = 0;
    fs.writeSync(1, 'exit ' + status + '\n');
  });
});
