// node_run.mjs — runs a WASI command module under Node's WASI as a second
// opinion for the ordinary (non-escape) test programs. Node documents its
// WASI sandbox as NOT secure, so it is never used for the escape tests.
//
//   node --no-warnings node_run.mjs CONFIG.json
//   CONFIG: {"module": path, "args": [...], "env": {...},
//            "preopens": {"/guest": "/host/dir"}}
// Exit status: the module's exit code; 134 on a trap (as `wagi run`).
//
// Works on Node 18.20 (Debian 12's nodejs) and Node 20+: `version` is
// mandatory from Node 20 and ignored by Node 18, and getImportObject() only
// exists from Node 19.8, so the import object is built from wasiImport.
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const wasi = new WASI({
  version: 'preview1',
  args: cfg.args,
  env: cfg.env,
  preopens: cfg.preopens,
  returnOnExit: true,
});
let code;
try {
  const mod = await WebAssembly.compile(readFileSync(cfg.module));
  const inst = await WebAssembly.instantiate(mod, { wasi_snapshot_preview1: wasi.wasiImport });
  code = wasi.start(inst);
} catch (e) {
  process.stderr.write(`node: trap: ${e.message}\n`);
  code = 134;
}
process.exitCode = code;
