// v8-compile.mjs FILE.wasm: V8's compile time for a module (synchronous
// new WebAssembly.Module, which returns once every function is compiled for
// the tier the flags select). Prints "compile_s=T".
import { readFileSync } from 'node:fs';

const bytes = readFileSync(process.argv[2]);
const t0 = process.hrtime.bigint();
new WebAssembly.Module(bytes);
console.log(`compile_s=${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3)}`);
