'use strict';
// stdin_lines.js — calls fn(line) for each non-empty line of stdin, in
// order, as lines arrive: the request loop of v8run.js --serve and
// ttf_server.js, whose callers send one request per line and wait for its
// answer.
module.exports = function onStdinLines(fn) {
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line) fn(line);
    }
  });
};
