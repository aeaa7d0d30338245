#!/usr/bin/env bash
# demo.sh — `make demo` / `make demo-stop`.
#
#   demo.sh         (re)starts the local stack, all on 127.0.0.1 and LEFT
#                   RUNNING: Azurite (Blob Storage, :10000), the Cosmos DB
#                   stand-in (:8081, plain HTTP), `wagi eventgrid` (:3001) and
#                   the WAGI server (:3000) with examples/demo.toml; runs the
#                   seed's flow (POST /handler -> blob + event -> webhook ->
#                   Cosmos document), classifies a photo twice with the tf
#                   example (computed, then cached), shows a few more requests and a short
#                   CLI engine demo, and prints what to try
#   demo.sh stop    stops everything the demo started (SIGTERM, wait), by pid
#
# Each service runs in its own session (setsid), so it outlives make and the
# terminal; pids are in $BUILD/demo/NAME.pid, output and data under
# $BUILD/demo/ (logs/wagi.log: startup and diagnostics, logs/access.log: one
# line per request, logs/<sha256 of route>/module.stderr: each module's
# stderr; logs/azurite.log, logs/cosmos.log, logs/eventgrid.log; azurite/
# and eventgrid/ hold the blob and topic data).
# Expects $BUILD/wagi, $BUILD/examples/*.wasm and node/node_modules (the
# Makefile's setup and build do it).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD=${BUILD:-build}
W=$BUILD/wagi
D=$BUILD/demo
LOGS=$D/logs
NODE_BIN=$ROOT/node/node_modules/.bin
case "$D" in /*) ABS_D=$D ;; *) ABS_D=$ROOT/$D ;; esac
CONFIG=$ABS_D/modules.toml
TOPIC_CONFIG=$ABS_D/topic.toml
ADDR=127.0.0.1
PORT=3000
URL=http://$ADDR:$PORT
# The order they start in; they stop in reverse.
SERVICES="azurite cosmos eventgrid wagi"

die() { echo "demo: $*" >&2; exit 1; }

svc_port() {
  case $1 in azurite) echo 10000 ;; cosmos) echo 8081 ;; eventgrid) echo 3001 ;; wagi) echo $PORT ;; esac
}
# Text that only this tree's instance of the service has on its command line.
svc_marker() {
  case $1 in
    azurite) echo "--location $ABS_D/azurite" ;;
    cosmos) echo "cosmosdb-server -p 8081 --no-ssl --host $ADDR" ;;
    eventgrid) echo "-c $TOPIC_CONFIG" ;;
    wagi) echo "-c $CONFIG " ;;
  esac
}

# The pid of the demo's service NAME if it is running, else nothing. A pid
# file alone is not trusted (the pid may have been reused): the process must
# be this tree's instance.
demo_pid() {
  local f=$D/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null) || return 0
  case "$pid" in ''|*[!0-9]*) return 0 ;; esac
  [ -r "/proc/$pid/cmdline" ] || return 0
  { tr '\0' ' ' < "/proc/$pid/cmdline"; echo; } | grep -qF -- "$(svc_marker "$1")" && echo "$pid"
  return 0
}

port_busy() { (exec 3<>"/dev/tcp/$ADDR/$1") 2>/dev/null; }

# stop_one NAME: SIGTERM, wait up to 15 s, then SIGKILL. Prints what it did.
stop_one() {
  local name=$1 pid
  pid=$(demo_pid "$name")
  if [ -z "$pid" ]; then
    rm -f "$D/$name.pid"
    return 1
  fi
  kill -TERM "$pid" 2>/dev/null
  # wagi drains requests in flight for at most 10 s; allow a margin.
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "demo-stop: $name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
    sleep 0.2
  fi
  kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) is still running"
  rm -f "$D/$name.pid"
  echo "demo-stop: stopped $name (pid $pid, $ADDR:$(svc_port "$name"))"
  return 0
}

stop_demo() {
  local any=0 name
  for name in wagi eventgrid cosmos azurite; do
    stop_one "$name" && any=1
  done
  if [ $any -eq 0 ]; then
    echo "demo-stop: no demo service is running (nothing to stop)"
  else
    echo "demo-stop: logs and data kept in $D/"
  fi
  return 0
}

# start_svc NAME READY_CHECK CMD...: starts CMD in its own session with its
# pid in $D/NAME.pid and its output in $LOGS/NAME.log, then waits until
# READY_CHECK (a shell command) succeeds.
start_svc() {
  local name=$1 check=$2 pid
  shift 2
  : > "$LOGS/$name.log"
  rm -f "$D/$name.pid"
  # The child writes its own pid before exec: setsid forks when it happens to
  # be a process-group leader, and then $! would name the wrong process.
  # shellcheck disable=SC2016  # $$ and $1 expand in the child
  setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' demo "$D/$name.pid" "$@" \
    </dev/null >>"$LOGS/$name.log" 2>&1 &
  for _ in $(seq 1 50); do [ -s "$D/$name.pid" ] && break; sleep 0.05; done
  pid=$(cat "$D/$name.pid" 2>/dev/null)
  [ -n "$pid" ] || die "could not start $name (no pid written to $D/$name.pid)"
  for _ in $(seq 1 300); do
    if eval "$check"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: $name did not start; its output ($LOGS/$name.log):" >&2
  sed 's/^/  /' "$LOGS/$name.log" >&2
  kill -TERM "$pid" 2>/dev/null
  rm -f "$D/$name.pid"
  stop_demo >/dev/null
  exit 1
}

if [ "${1:-}" = stop ]; then
  stop_demo
  exit $?
fi
[ $# -eq 0 ] || die "usage: demo.sh [stop]"

command -v curl >/dev/null 2>&1 || die "curl is missing (scripts/setup.sh installs it)"
[ -x "$W" ] || die "$W is missing: run 'make demo' (it builds it)"
for m in hello env echo handler webhook tf; do
  [ -f "$BUILD/examples/$m.wasm" ] || die "$BUILD/examples/$m.wasm is missing: run 'make demo' (it builds it)"
done
[ -f "$BUILD/examples/tf.wasmc" ] || die "$BUILD/examples/tf.wasmc is missing: run 'make demo' (it compiles it)"
for b in azurite-blob cosmosdb-server; do
  [ -x "$NODE_BIN/$b" ] || die "$NODE_BIN/$b is missing: run 'make demo' (its setup installs the Node packages)"
done

# ---- (re)start the stack ------------------------------------------------------

# Re-running the demo restarts everything, so it always serves what was
# just built.
running=""
for name in $SERVICES; do [ -n "$(demo_pid "$name")" ] && running="$running $name"; done
if [ -n "$running" ]; then
  echo "demo: restarting what an earlier demo left running:$running"
  stop_demo >/dev/null || exit 1
fi
for name in $SERVICES; do
  port=$(svc_port "$name")
  if port_busy "$port"; then
    owner=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\("[^"]*",pid=[0-9]*\).*/\1/p' | head -1)
    die "port $port on $ADDR (for $name) is already in use by another program${owner:+ ($owner)}; stop it and run 'make demo' again"
  fi
done

mkdir -p "$LOGS" "$D/azurite"
# Module paths in demo.toml are relative to the repository root and name the
# default build directory; follow BUILD if it differs.
sed "s#\"build/examples/#\"$BUILD/examples/#" examples/demo.toml > "$CONFIG" || exit 1
sed "s#\"build/demo/#\"$ABS_D/#" examples/topic.toml > "$TOPIC_CONFIG" || exit 1

start_svc azurite "port_busy 10000" \
  "$NODE_BIN/azurite-blob" --blobHost "$ADDR" --blobPort 10000 --location "$ABS_D/azurite" \
  --disableTelemetry
start_svc cosmos "port_busy 8081" "$NODE_BIN/cosmosdb-server" -p 8081 --no-ssl --host "$ADDR"
start_svc eventgrid "grep -q '^Ready: eventgrid' '$LOGS/eventgrid.log'" \
  "$W" eventgrid -c "$TOPIC_CONFIG"
mv -f "$LOGS/wagi.log" "$LOGS/wagi.log.old" 2>/dev/null
start_svc wagi "grep -q '^Ready: serving' '$LOGS/wagi.log'" \
  "$W" -c "$CONFIG" -l "$ADDR:$PORT" --hostname "localhost:$PORT" \
  --log-dir "$LOGS" --access-log "$LOGS/access.log"
pid=$(demo_pid wagi)

echo "== wagi-c demo: a WAGI server on its own WebAssembly engine =="
echo
echo "Running in the background, all on $ADDR (stop them with 'make demo-stop'):"
echo "  wagi            $URL (pid $pid), config $D/modules.toml (from examples/demo.toml)"
echo "  wagi eventgrid  http://$ADDR:3001/api/events (pid $(demo_pid eventgrid)), config $D/topic.toml"
echo "  Azurite (Blob)  http://$ADDR:10000/devstoreaccount1 (pid $(demo_pid azurite))"
echo "  Cosmos DB       http://$ADDR:8081 (stand-in, plain HTTP; pid $(demo_pid cosmos))"
echo "  logs            $LOGS/"

# ---- a few requests ------------------------------------------------------------

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

# ---- the seed's flow ----------------------------------------------------------

# Every document of the demo's collection, through the stand-in (it does not
# check authorization; the modules sign their requests as for Azure).
cosmos_docs() {
  curl -sS --max-time 10 -X POST "http://$ADDR:8081/dbs/wagi/colls/documents/docs" \
    -H 'Content-Type: application/query+json' -H 'x-ms-documentdb-isquery: True' \
    -H 'x-ms-documentdb-query-enablecrosspartition: True' \
    -d "$(printf '{"query":"SELECT * FROM c WHERE c.id = @id","parameters":[{"name":"@id","value":"%s"}]}' "$1")"
}

echo
echo "---- the seed's flow: handler -> Blob + Event Grid -> webhook -> Cosmos DB ----"
echo
echo "\$ curl '$URL/handler?container=mycontainer&blob=myblob' -X POST -d 'Some string data'"
flow_out=$(curl -sS -i --max-time 30 "$URL/handler?container=mycontainer&blob=myblob" -X POST -d 'Some string data' 2>&1)
printf '%s\n' "$flow_out" | tr -d '\r' | grep -iv '^date:' | sed 's/^/  /'
event_id=""
for _ in $(seq 1 100); do
  event_id=$(grep 'delivered$' "$LOGS/eventgrid.log" | tail -1 | sed -n 's/.*event=\([^ ]*\) subscription=webhook.*/\1/p')
  [ -n "$event_id" ] && break
  sleep 0.1
done
fails=0
if [ -z "$event_id" ]; then
  echo "  !! the event was not delivered to the webhook within 10 s (see $LOGS/eventgrid.log)"
  fails=1
else
  echo
  echo "wagi eventgrid delivered the event to /eventgrid-webhook:"
  grep -F "$event_id" "$LOGS/eventgrid.log" | sed 's/^/  /'
  echo
  echo "The Cosmos DB document the webhook wrote (id = the event's id):"
  doc=""
  for _ in $(seq 1 50); do
    doc=$(cosmos_docs "$event_id" 2>/dev/null)
    case "$doc" in *'"Documents":[{'*) break ;; esac
    sleep 0.1
  done
  echo "  $doc"
  case "$doc" in *'Some string data'*) ;; *) echo "  !! no document with the blob's text"; fails=1 ;; esac
fi

# ---- the tf example: classify one photo twice ------------------------------------

echo
echo "---- the tf example: MobileNetV2 inside the module, cached in Cosmos DB ----"
# The stand-in keeps its data in memory, so a fresh demo starts with an empty
# cache: the first request runs the model, the second is answered from Cosmos DB.
photo=examples/tf/data/grace_hopper.jpg
for want in miss hit; do
  echo
  echo "\$ curl --data-binary @$photo $URL/infer"
  tf_out=$(curl -sS -i --max-time 60 --data-binary "@$photo" "$URL/infer" -w '\ntime_total=%{time_total}\n' 2>&1)
  tf_body=$(printf '%s\n' "$tf_out" | tr -d '\r' | sed -n '/^$/,$p' | sed -e '1d' -e '/^time_total=/d' -e '/^$/d')
  tf_cache=$(printf '%s\n' "$tf_out" | tr -d '\r' | sed -n 's/^[Xx]-[Cc]ache: //p')
  tf_time=$(printf '%s\n' "$tf_out" | sed -n 's/^time_total=//p')
  echo "  $tf_body"
  if [ "$want" = miss ]; then what="computed (the model ran)"; else what="cached (answered from Cosmos DB)"; fi
  echo "  -> $what, X-Cache: ${tf_cache:-none}, ${tf_time:-?} s"
  case "$tf_body" in "The image represents a "*) ;; *) echo "  !! not a classification"; fails=$((fails + 1)) ;; esac
  [ "$tf_cache" = "$want" ] || { echo "  !! expected X-Cache: $want"; fails=$((fails + 1)); }
done
echo "  (each step's time is in the Server-Timing header and in the route's module.stderr)"

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

---- try it yourself (the stack keeps running) ----
  curl '$URL/handler?container=mycontainer&blob=another' -X POST -d 'More data'
  curl --data-binary @examples/tf/data/grace_hopper.jpg $URL/infer   # then again: cached
  tail $LOGS/eventgrid.log       # the delivery to the webhook
  curl $URL/hello
  curl '$URL/env/a/b?x=1' -H 'X-Demo: yes'
  curl -X POST $URL/echo -H 'Content-Type: application/json' -d '{"hi": 1}'
  curl $URL/wat
  curl -i $URL/healthz
  curl -i $URL/nothing-here      # 404
  tail -f $LOGS/access.log
  make demo-stop                 # stops everything the demo started
EOF

if [ $fails -ne 0 ]; then
  echo
  echo "demo: $fails request(s) did not give the expected status (see above; server log: $LOGS/wagi.log)" >&2
  exit 1
fi
