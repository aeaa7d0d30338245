// run-node.mjs FILE.wasm [REPS]: V8 peer for bench/run.sh. Prints
// "checksum=N best_s=T" like the native and engine drivers.
import { readFileSync } from 'node:fs';

const [file, repsArg] = process.argv.slice(2);
const reps = Number(repsArg || 3);
const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
let best = Infinity, sum = 0;
for (let i = 0; i < reps; i++) {
  const t0 = process.hrtime.bigint();
  sum = instance.exports.run();
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  if (t < best) best = t;
}
console.log(`checksum=${sum} best_s=${best.toFixed(6)}`);
