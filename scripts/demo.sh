#!/usr/bin/env bash
# demo.sh — `make demo` / `make demo-stop`.
#
#   demo.sh         (re)starts the WAGI server on 127.0.0.1:3000 with
#                   examples/demo.toml, LEAVES IT RUNNING, shows a few requests
#                   and a short CLI engine demo, and prints what to try
#   demo.sh stop    stops the server started by the demo (SIGTERM, wait)
#
# The server runs in its own session (setsid), so it outlives make and the
# terminal; its pid is in $BUILD/demo/wagi.pid, its output in
# $BUILD/demo/logs/ (wagi.log: startup and diagnostics, access.log: one line
# per request, <sha256 of route>/module.stderr: each module's stderr).
# Expects $BUILD/wagi and $BUILD/examples/*.wasm built (the Makefile does it).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD=${BUILD:-build}
W=$BUILD/wagi
D=$BUILD/demo
LOGS=$D/logs
PIDFILE=$D/wagi.pid
case "$D" in /*) CONFIG=$D/modules.toml ;; *) CONFIG=$ROOT/$D/modules.toml ;; esac
ADDR=127.0.0.1
PORT=3000
URL=http://$ADDR:$PORT

die() { echo "demo: $*" >&2; exit 1; }

# The pid of the demo's server if it is running, else nothing. A pid file
# alone is not trusted (the pid may have been reused): the process must be
# a wagi serving this tree's demo config.
demo_pid() {
  [ -f "$PIDFILE" ] || return 0
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 0
  case "$pid" in ''|*[!0-9]*) return 0 ;; esac
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "-c $CONFIG " && echo "$pid"
  return 0
}

port_busy() { (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null; }

stop_demo() {
  local pid
  pid=$(demo_pid)
  if [ -z "$pid" ]; then
    rm -f "$PIDFILE"
    echo "demo-stop: no demo server is running (nothing to stop)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  # The server drains requests in flight for at most 10 s; allow a margin.
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "demo-stop: wagi (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
  fi
  if kill -0 "$pid" 2>/dev/null; then
    die "wagi (pid $pid) is still running"
  fi
  rm -f "$PIDFILE"
  echo "demo-stop: stopped the demo server (pid $pid, $URL); logs kept in $LOGS/"
}

if [ "${1:-}" = stop ]; then
  stop_demo
  exit $?
fi
[ $# -eq 0 ] || die "usage: demo.sh [stop]"

command -v curl >/dev/null 2>&1 || die "curl is missing (scripts/setup.sh installs it)"
[ -x "$W" ] || die "$W is missing: run 'make demo' (it builds it)"
for m in hello env echo; do
  [ -f "$BUILD/examples/$m.wasm" ] || die "$BUILD/examples/$m.wasm is missing: run 'make demo' (it builds it)"
done

# ---- (re)start the server ---------------------------------------------------

# Re-running the demo restarts the server, so it always serves what was
# just built.
if [ -n "$(demo_pid)" ]; then
  echo "demo: a demo server is already running; restarting it"
  stop_demo >/dev/null || exit 1
fi
if port_busy; then
  owner=$(ss -Hltnp "sport = :$PORT" 2>/dev/null | sed -n 's/.*users:((\("[^"]*",pid=[0-9]*\).*/\1/p' | head -1)
  die "port $PORT on $ADDR is already in use by another program${owner:+ ($owner)}; stop it and run 'make demo' again"
fi

mkdir -p "$LOGS"
# Module paths in demo.toml are relative to the repository root and name the
# default build directory; follow BUILD if it differs.
sed "s#\"build/examples/#\"$BUILD/examples/#" examples/demo.toml > "$CONFIG" || exit 1
: > "$LOGS/wagi.log"
rm -f "$PIDFILE"
# The child writes its own pid before exec: setsid forks when it happens to
# be a process-group leader, and then $! would name the wrong process.
# shellcheck disable=SC2016  # $$ and $1 expand in the child
setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' demo "$PIDFILE" \
  "$W" -c "$CONFIG" -l "$ADDR:$PORT" --hostname "localhost:$PORT" \
  --log-dir "$LOGS" --access-log "$LOGS/access.log" \
  </dev/null >>"$LOGS/wagi.log" 2>&1 &
for _ in $(seq 1 50); do [ -s "$PIDFILE" ] && break; sleep 0.05; done
pid=$(cat "$PIDFILE" 2>/dev/null)
[ -n "$pid" ] || die "could not start $W (no pid written to $PIDFILE)"

ready=0
for _ in $(seq 1 100); do
  if grep -q '^Ready: serving' "$LOGS/wagi.log" 2>/dev/null; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ $ready -ne 1 ]; then
  echo "demo: the server did not start; its output ($LOGS/wagi.log):" >&2
  sed 's/^/  /' "$LOGS/wagi.log" >&2
  kill -TERM "$pid" 2>/dev/null
  rm -f "$PIDFILE"
  exit 1
fi

echo "== wagi-c demo: a WAGI server on its own WebAssembly engine =="
echo
echo "wagi is running in the background (pid $pid): $URL"
echo "  config  $D/modules.toml (from examples/demo.toml)"
echo "  logs    $LOGS/wagi.log, $LOGS/access.log, $LOGS/<route hash>/module.stderr"

# ---- a few requests ------------------------------------------------------------

fails=0
# The arguments as one would type them in a shell.
quote_args() {
  local a out=""
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_/:.=@%+,-]+$ ]]; then out+=" $a"; else out+=" '${a//\'/\'\\\'\'}'"; fi
  done
  printf '%s' "${out# }"
}
# req EXPECTED_STATUS CURL_ARGS...: shows the command, the status line, the
# headers the module set and the body.
req() {
  local want=$1; shift
  echo
  echo "\$ curl -i $(quote_args "$@")"
  local out rc code
  out=$(curl -sS -i --max-time 30 "$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" | tr -d '\r' | grep -iv '^date:' | sed 's/^/  /'
  code=$(printf '%s\n' "$out" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p')
  if [ $rc -ne 0 ] || [ "$code" != "$want" ]; then
    echo "  !! expected status $want, got ${code:-none} (curl exit $rc)"
    fails=$((fails + 1))
  fi
}

echo
echo "---- HTTP requests ----"
req 200 "$URL/hello"
req 200 "$URL/env/some/path?x=1&y=two" -H "X-Demo: hello"
req 200 -X POST "$URL/echo" -H "Content-Type: text/plain" --data-binary "ping from curl"
req 200 "$URL/wat"
req 200 "$URL/healthz"
req 404 "$URL/no-such-route"

# ---- the engine through the CLI (short) -----------------------------------------

show() {
  echo
  echo "\$ wagi $*"
  "$W" "$@" 2>&1 | sed 's/^/  /'
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || echo "  (exit status $rc)"
}

echo
echo "---- the engine through the CLI ----"
wat2wasm --enable-all --debug-names examples/wat/math.wat -o "$D/math.wasm" || exit 1
show validate "$D/math.wasm"
show inspect "$BUILD/examples/hello.wasm"
show invoke "$D/math.wasm" fib 25
show invoke "$D/math.wasm" hypot 3 4
show invoke "$D/math.wasm" divmod 17 5
echo
echo "# a trap names the function and byte offset; exit status 2"
show invoke "$D/math.wasm" divmod 1 0

# ---- what to try --------------------------------------------------------------

cat <<EOF

---- try it yourself (the server keeps running) ----
  curl $URL/hello
  curl '$URL/env/a/b?x=1' -H 'X-Demo: yes'
  curl -X POST $URL/echo -H 'Content-Type: application/json' -d '{"hi": 1}'
  curl $URL/wat
  curl -i $URL/healthz
  curl -i $URL/nothing-here      # 404
  tail -f $LOGS/access.log
  make demo-stop                 # stops the server
EOF

if [ $fails -ne 0 ]; then
  echo
  echo "demo: $fails request(s) did not give the expected status (see above; server log: $LOGS/wagi.log)" >&2
  exit 1
fi
