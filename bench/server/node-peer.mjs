// node-peer.mjs — the Node.js peer for bench/server/run.sh: a minimal WAGI
// server on node:http + node:wasi doing what wagi-c does per request:
// compile the module once, then per request a fresh WASI world (argv, CGI
// env), a fresh instance, _start, stdout captured in memory and split into
// headers and body (the WAGI §6.1 rule, simplified to what hello needs).
//
//   node --no-warnings bench/server/node-peer.mjs MODULE.wasm PORT
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { WASI } from 'node:wasi';

const [file, portArg] = process.argv.slice(2);
const port = Number(portArg || 3001);
const module = await WebAssembly.compile(readFileSync(file));

function run(req, body) {
  const [path, query = ''] = req.url.split('?');
  const env = {
    REQUEST_METHOD: req.method, PATH_INFO: '', SCRIPT_NAME: path, QUERY_STRING: query,
    SERVER_SOFTWARE: 'WAGI/1', GATEWAY_INTERFACE: 'CGI/1.1', CONTENT_LENGTH: String(body.length),
    SERVER_PROTOCOL: 'HTTP/' + req.httpVersion, X_MATCHED_ROUTE: path, X_RAW_PATH_INFO: '',
  };
  for (const [k, v] of Object.entries(req.headers))
    env['HTTP_' + k.toUpperCase().replace(/-/g, '_')] = String(v);
  const wasi = new WASI({ version: 'preview1', args: [path], env, returnOnExit: true });
  // Not getImportObject(): Node 18 (Debian 12's nodejs) lacks it; `version`
  // is mandatory from Node 20 and ignored by Node 18.
  const imports = { wasi_snapshot_preview1: wasi.wasiImport };
  const base = imports.wasi_snapshot_preview1;
  const out = [];
  let memory;
  // stdout into memory: node's WASI only writes to real fds.
  imports.wasi_snapshot_preview1 = {
    ...base,
    fd_write(fd, iovs, iovsLen, nwritten) {
      if (fd !== 1) return base.fd_write(fd, iovs, iovsLen, nwritten);
      const dv = new DataView(memory.buffer);
      let n = 0;
      for (let i = 0; i < iovsLen; i++) {
        const p = dv.getUint32(iovs + 8 * i, true), l = dv.getUint32(iovs + 8 * i + 4, true);
        out.push(Buffer.from(new Uint8Array(memory.buffer, p, l)));
        n += l;
      }
      dv.setUint32(nwritten, n, true);
      return 0;
    },
  };
  const inst = new WebAssembly.Instance(module, imports);
  memory = inst.exports.memory;
  const code = wasi.start(inst);
  return { code, stdout: Buffer.concat(out) };
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let r;
    try {
      r = run(req, Buffer.concat(chunks));
    } catch (e) {
      res.writeHead(500).end();
      return;
    }
    if (r.code !== 0) { res.writeHead(500).end(); return; }
    const s = r.stdout;
    const sep = s.indexOf('\n\n');
    if (sep < 0) { res.writeHead(500).end(); return; }
    const headers = {};
    for (const line of s.subarray(0, sep).toString().split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    res.writeHead(200, headers);
    res.end(s.subarray(sep + 2));
  });
}).listen(port, '127.0.0.1', () => console.log(`Ready: serving on http://127.0.0.1:${port}`));
