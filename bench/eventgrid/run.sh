#!/usr/bin/env bash
# bench/eventgrid/run.sh — `wagi eventgrid` on loopback, side by side in one
# run with nothing else of ours running:
#
#   fsync        the raw fdatasync rate of the data dir's filesystem
#                (build/egload fsync: append ~300 bytes + fdatasync, in a
#                loop), measured before and after: the topic fdatasyncs its
#                log once per publish request before it answers 200, so
#                this is the reference for publish batches/s;
#   publish      build/egload publish: P publishers, one keep-alive
#                connection each, POSTing batches of B events back to back
#                (B = 1 and 100, P = 1, 4, 16), a fresh topic and data dir
#                for each; batches/s, events/s, p50/p99 per request;
#   latency      build/egload latency: a loopback webhook subscriber
#                (validates, timestamps arrivals) and one publisher sending
#                single events at a fixed rate, each carrying its publish
#                time in data.t; publish-to-delivery p50/p99/max.
#
# Prints a table and rewrites the results between the
# <!-- eventgrid-results --> markers of bench/README.md (NO_README=1 leaves
# it alone). Run through `make bench-eventgrid` (builds build/wagi and
# build/egload; `make bench` runs it too). About 50 s.
#
# Env: BUILD (default build), DURATION (s per publish run, default 5),
# PUBLISHERS (default "1 4 16"), BATCHES (default "1 100"), FSYNC_SECONDS
# (default 3), RATES (latency runs, events/s, default "100 500"),
# LAT_SECONDS (per latency run, default 5), PORT (default 3501; the
# subscriber uses PORT+1).
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-5}
PUBLISHERS=${PUBLISHERS:-1 4 16}
BATCHES=${BATCHES:-1 100}
FSYNC_SECONDS=${FSYNC_SECONDS:-3}
RATES=${RATES:-100 500}
LAT_SECONDS=${LAT_SECONDS:-5}
PORT=${PORT:-3501}
SUBPORT=$((PORT + 1))
OUT=$BUILD/bench-eventgrid
KEY=bench-key-0123456789
WAGI=$BUILD/wagi
EGLOAD=$BUILD/egload

for b in "$WAGI" "$EGLOAD"; do
  [ -x "$b" ] || { echo "bench/eventgrid: $b missing (run: make bench-eventgrid)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT"
# Deleting the last run's logs keeps the journal busy for a moment: let it
# settle before the fdatasync reference is measured.
sync

topic_pid=
lat_pid=
cleanup() {
  for p in $topic_pid $lat_pid; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# field NAME LINE: the value of NAME=... in an egload line.
field() { sed -nE "s/.*\\b$1=([^ ]+).*/\\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# start_topic NAME EXTRA_TOML: a topic on PORT with a fresh data dir.
start_topic() {
  local dir=$OUT/$1
  mkdir -p "$dir"
  printf 'key = "%s"\ndata_dir = "%s"\n%s' "$KEY" "$PWD/$dir/data" "$2" >"$dir/topic.toml"
  "$WAGI" eventgrid -c "$dir/topic.toml" --listen "127.0.0.1:$PORT" >"$dir/out" 2>"$dir/err" &
  topic_pid=$!
  for _ in $(seq 100); do
    grep -q "Ready: " "$dir/out" 2>/dev/null && return 0
    kill -0 "$topic_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench/eventgrid: the topic did not start:" >&2
  cat "$dir/err" >&2
  return 1
}

stop_topic() {
  kill -TERM "$topic_pid" 2>/dev/null || true
  wait "$topic_pid" 2>/dev/null || true
  topic_pid=
}

fsync_run() {
  local line
  line=$("$EGLOAD" fsync "$OUT" "$FSYNC_SECONDS")
  field fsyncs_per_s "$line"
}

load_start=$(cut -d' ' -f1 /proc/loadavg)
fs="$(findmnt -n -o FSTYPE,SOURCE -T "$OUT" | sed "s/ \+/ on /" || stat -f -c %T "$OUT")"
echo "bench/eventgrid: wagi eventgrid on loopback, $(nproc) cores, data dir $OUT ($fs)"
echo "The topic fdatasyncs its log once per publish request, before it answers 200."

fs_before=$(fsync_run)
echo "raw fdatasync of the data dir's filesystem (~300 B appends): $fs_before/s"

declare -a res
for batch in $BATCHES; do
  for p in $PUBLISHERS; do
    start_topic "pub-$p-$batch" ""
    line=$("$EGLOAD" publish "$PORT" "$KEY" "$p" "$batch" "$DURATION") || {
      echo "bench/eventgrid: publish run failed: $line" >&2; exit 1; }
    stop_topic
    # Each run leaves up to ~150 MB of log: not kept, not left for the
    # filesystem to work on during the next run.
    rm -rf "$OUT/pub-$p-$batch/data"
    sync
    echo "  $line"
    res+=("$p $batch $(field batches_per_s "$line") $(field events_per_s "$line") $(field p50_ms "$line") $(field p99_ms "$line")")
  done
done

sleep 2  # the disk's write-back after ~100 MB of publishes
fs_after=$(fsync_run)
echo "raw fdatasync again after the publish runs: $fs_after/s"
# The reference: the mean of the two (the rate drifts on a shared VM disk).
fs_ref=$(( (fs_before + fs_after) / 2 ))

echo
echo "publish throughput; reference: $fs_ref fdatasyncs/s (mean of $fs_before and $fs_after)"
declare -a rows
printf '%-10s %-6s %11s %11s %9s %9s %20s\n' publishers batch batches/s events/s "p50 ms" "p99 ms" "batches/s÷fsyncs/s"
for r in "${res[@]}"; do
  read -r p batch bps eps p50 p99 <<<"$r"
  q=$(ratio "$bps" "$fs_ref")
  printf '%-10s %-6s %11s %11s %9s %9s %20s\n' "$p" "$batch" "$bps" "$eps" "$p50" "$p99" "$q"
  rows+=("| $p | $batch | $bps | $eps | $p50 | $p99 | $q |")
done

declare -a lrows
echo
printf '%-9s %7s %9s %15s %15s %15s %15s %15s\n' "rate/s" sent delivered "publish p50" "publish p99" \
  "delivery p50" "delivery p99" "delivery max"
for rate in $RATES; do
  count=$((rate * LAT_SECONDS))
  "$EGLOAD" latency "$PORT" "$KEY" "$SUBPORT" "$rate" "$count" >"$OUT/lat-$rate.txt" 2>"$OUT/lat-$rate.err" &
  lat_pid=$!
  for _ in $(seq 50); do grep -q listening "$OUT/lat-$rate.err" && break; sleep 0.1; done
  start_topic "lat-$rate" "retry_delays = [0.05]
[[subscription]]
name = \"bench\"
endpoint = \"http://127.0.0.1:$SUBPORT/hook\"
"
  rc=0; wait "$lat_pid" || rc=$?
  lat_pid=
  stop_topic
  line=$(cat "$OUT/lat-$rate.txt")
  if [ $rc != 0 ] || [ -z "$line" ]; then
    echo "bench/eventgrid: latency run at $rate/s failed: $line $(cat "$OUT/lat-$rate.err")" >&2
    exit 1
  fi
  vals=()
  for f in sent delivered publish_p50_ms publish_p99_ms delivery_p50_ms delivery_p99_ms delivery_max_ms; do
    vals+=("$(field "$f" "$line")")
  done
  printf '%-9s %7s %9s %12s ms %12s ms %12s ms %12s ms %12s ms\n' "$rate" "${vals[@]}"
  lrows+=("| $rate | ${vals[0]} | ${vals[1]} | ${vals[2]} | ${vals[3]} | ${vals[4]} | ${vals[5]} | ${vals[6]} |")
done
load_end=$(cut -d' ' -f1 /proc/loadavg)
echo "(load average $load_start before, $load_end after)"

[ "${NO_README:-0}" = 1 ] && exit 0

{
  echo "<!-- eventgrid-results -->"
  echo "Latest \`make bench-eventgrid\` ($(date -u +%F), $(nproc) cores," \
       "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average" \
       "$load_start before, $load_end after; data dir on $fs)."
  echo
  echo "The topic fdatasyncs its log once per publish request before answering 200;"
  echo "the reference is this filesystem's raw rate of ~300-byte append + fdatasync,"
  echo "**$fs_ref fsyncs/s** (mean of $fs_before before the publish runs and $fs_after after)."
  echo
  echo "| publishers | events per batch | batches/s | events/s | p50 (ms) | p99 (ms) | batches/s ÷ fsyncs/s |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Publish to delivery (one subscriber on loopback, single-event batches at a fixed rate for ${LAT_SECONDS} s):"
  echo
  echo "| events/s | sent | delivered | publish p50 (ms) | publish p99 (ms) | delivery p50 (ms) | delivery p99 (ms) | delivery max (ms) |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${lrows[@]}"
  echo "<!-- /eventgrid-results -->"
} >"$OUT/results.md"

python3 - "$OUT/results.md" <<'EOF'
import re, sys
readme = "bench/README.md"
new = open(sys.argv[1]).read().rstrip("\n")
try:
    text = open(readme).read()
except FileNotFoundError:
    text = "# Benchmarks\n"
if "<!-- eventgrid-results -->" in text:
    text = re.sub(r"<!-- eventgrid-results -->.*?<!-- /eventgrid-results -->", lambda m: new,
                  text, flags=re.S)
else:
    # Before the engine's "<!-- results -->": its script deletes what follows it.
    block = ("## Event Grid topic\n\n" + open("bench/eventgrid/README.section").read().rstrip("\n")
             + "\n\n" + new + "\n\n")
    if "<!-- results -->" in text:
        i = text.index("<!-- results -->")
        text = text[:i] + block + text[i:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
open(readme, "w").write(text)
EOF
echo "bench/eventgrid: results written to bench/README.md"
