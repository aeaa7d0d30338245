// oracle.mjs — what the official Azure SDKs send, for tests/azure/test_signing.py.
//   node oracle.mjs blob ACCOUNT KEY   one JSON line per request the Blob SDK made
//                                      (method, path, query, headers) against a
//                                      local recorder that answers success
//   node oracle.mjs cosmos KEY         JSON lines {verb, type, link, date, auth}
//                                      from @azure/cosmos's own signing function
//   node oracle.mjs egsas URL KEY UNIX... one aeg-sas-token per expiry, from
//                                      @azure/eventgrid's generateSharedAccessSignature
import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [mode, ...args] = process.argv.slice(2);

if (mode === "blob") {
  const { BlobServiceClient, StorageSharedKeyCredential } = require("@azure/storage-blob");
  const [account, key] = args;
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const q = req.url.indexOf("?");
      seen.push({ method: req.method, path: q < 0 ? req.url : req.url.slice(0, q),
                  query: q < 0 ? "" : req.url.slice(q + 1), headers: req.headers });
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/plain", "content-length": "2",
                             "x-ms-blob-type": "BlockBlob", etag: "\"0x1\"",
                             "last-modified": new Date().toUTCString() });
        res.end("ok");
      } else {
        res.writeHead(201, { "content-length": "0" });
        res.end();
      }
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${server.address().port}/${account}`;
  const svc = new BlobServiceClient(base, new StorageSharedKeyCredential(account, key),
                                    { retryOptions: { maxTries: 1 } });
  const names = ["plain", "dir/sub dir/a b+c%.txt", "ümlaut-ß.bin", "q?x=1&y#z"];
  const c = svc.getContainerClient("mycontainer");
  await c.create();
  for (const n of names) {
    const b = c.getBlockBlobClient(n);
    await b.upload("Some string data", 16, { blobHTTPHeaders: { blobContentType: "text/plain" } });
    await b.upload("", 0);
    await (await b.download()).readableStreamBody?.resume();
  }
  server.close();
  for (const s of seen) console.log(JSON.stringify(s));
} else if (mode === "cosmos") {
  const { setAuthorizationTokenHeaderUsingMasterKey } = require("@azure/cosmos");
  const [key] = args;
  const cases = [
    ["POST", "", "dbs"], ["POST", "dbs/wagi", "colls"], ["POST", "dbs/wagi/colls/documents", "docs"],
    ["GET", "dbs/wagi/colls/documents/docs/some-id", "docs"],
    ["GET", "dbs/Wagi DB/colls/Docs/docs/ABCDEF0123", "docs"], ["DELETE", "dbs/wagi", "dbs"],
  ];
  for (const [verb, link, type] of cases) {
    const h = {};
    await setAuthorizationTokenHeaderUsingMasterKey(verb, link, type, h, key);
    const date = h["x-ms-date"];
    console.log(JSON.stringify({ verb, type, link, date, auth: h.authorization }));
  }
} else if (mode === "egsas") {
  const { generateSharedAccessSignature } = require("@azure/eventgrid");
  const { AzureKeyCredential } = require("@azure/core-auth");
  const [url, key, ...expiries] = args;
  for (const e of expiries) {
    const tok = await generateSharedAccessSignature(url, new AzureKeyCredential(key),
                                                    new Date(Number(e) * 1000));
    console.log(JSON.stringify({ expires: Number(e), token: tok }));
  }
} else {
  console.error("usage: node oracle.mjs blob ACCOUNT KEY | cosmos KEY | egsas URL KEY UNIX...");
  process.exit(1);
}
