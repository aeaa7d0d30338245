#!/usr/bin/env bash
# check-fresh-debian.sh [DIR]: the README's quick start, for real, on a fresh
# Debian 12 root. Run it (as root) before a release.
#
#   1. installs mmdebstrap with apt-get if it is missing;
#   2. builds a fresh root in DIR (default: a new /tmp/wagi-fresh.XXXXXX):
#      mmdebstrap --variant=apt --include=ca-certificates,git,make bookworm;
#   3. clones this checkout's committed HEAD (git clone; uncommitted changes
#      are NOT included) to DIR/work/wagi-c, and copies ../shared (test
#      suites) to DIR/work/shared when it exists, as CI has it;
#   4. inside the root (chroot; /proc, /dev and /sys mounted in a private
#      mount namespace, so they go away with it; the host's resolv.conf so
#      that apt reaches Debian's mirror) runs, as a user would, in
#      /work/wagi-c:  make demo, make demo-stop, make test;
#   5. prints the final line of each and exits 1 if either failed.
#
# Each command runs in its own PID namespace: whatever it leaves running
# ends with it. `make demo` listens on 127.0.0.1:3000, so the commands run in
# a private network namespace (loopback only) unless FRESH_NET=host; the
# packages are installed before that, with the network, by
# scripts/setup.sh (the script `make demo` and `make test` call first).
#
# Logs: DIR.log (everything), also shown. The root is deleted at the end
# unless KEEP_ROOT=1. Needs about 2 GB of disk; took 6 minutes on 2 cores
# with a near mirror.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "check-fresh-debian: run as root (mmdebstrap, chroot, mounts)" >&2
  exit 2
fi
SRC=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
SHA=$(git -C "$SRC" rev-parse HEAD)
SHARED="$SRC/../shared"
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no)" ]; then
  echo "check-fresh-debian: note: uncommitted changes in $SRC are not tested (HEAD $SHA is)"
fi

DIR=${1:-}
if [ -z "$DIR" ]; then
  DIR=$(mktemp -d /tmp/wagi-fresh.XXXXXX)
elif [ -e "$DIR" ]; then
  echo "check-fresh-debian: $DIR exists; give a new directory" >&2
  exit 2
fi
LOG="$DIR.log"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1

cleanup() {
  local rc=$?
  # The mounts live in private mount namespaces and are gone; check anyway
  # before deleting, so that rm can never reach the host's /dev or /sys.
  if [ -d "$DIR" ]; then
    if grep -q " $DIR/" /proc/self/mounts; then
      echo "check-fresh-debian: something is still mounted under $DIR; not deleting it"
    elif [ "${KEEP_ROOT:-0}" = 1 ]; then
      echo "check-fresh-debian: root kept in $DIR"
    else
      rm -rf --one-file-system "$DIR"
    fi
  fi
  exit $rc
}
trap cleanup EXIT

step() { echo "== $(date +%T) $*"; }

# ---- 1. mmdebstrap ------------------------------------------------------------
if ! command -v mmdebstrap >/dev/null 2>&1; then
  step "installing mmdebstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap; }
fi

# ---- 2. the root ---------------------------------------------------------------
start=$(date +%s)
step "mmdebstrap bookworm -> $DIR"
mmdebstrap --quiet --variant=apt --include=ca-certificates,git,make bookworm "$DIR"
# What every installed system has and mmdebstrap leaves out.
cp /etc/resolv.conf "$DIR/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$DIR/etc/hosts"
# CA certificates the host added (e.g. for a TLS-intercepting proxy on the
# way to the npm registry): the root needs them as much as resolv.conf; a
# machine on that network would have them installed too. apt uses plain HTTP.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$DIR/usr/local/share/ca-certificates/"
  chroot "$DIR" update-ca-certificates >/dev/null
fi

# ---- 3. the clone and ../shared ------------------------------------------------
step "git clone $SRC ($SHA) -> /work/wagi-c"
mkdir -p "$DIR/work"
git clone -q --no-checkout "$SRC" "$DIR/work/wagi-c"
git -C "$DIR/work/wagi-c" checkout -q --detach "$SHA"
if [ -d "$SHARED" ]; then
  step "copying $(cd "$SHARED" && pwd) -> /work/shared"
  cp -a "$SHARED/." "$DIR/work/shared"
else
  echo "check-fresh-debian: no $SHARED; the suites that need it will skip"
fi

# in_root NET CMD: runs CMD with bash -c in /work/wagi-c inside the root, in
# new mount and PID namespaces (and a network namespace with only loopback
# unless NET is "host"), with a clean environment as a root login has.
in_root() {
  local net=$1 cmd=$2 netflag=--net
  [ "$net" = host ] && netflag=
  # shellcheck disable=SC2016
  unshare --mount --propagation private --pid --fork $netflag -- bash -c '
    set -e
    R=$1 net=$2 cmd=$3
    mount -t proc proc "$R/proc"
    mount --rbind /dev "$R/dev"
    mount --rbind /sys "$R/sys"
    if [ "$net" != host ]; then ip link set lo up; fi
    exec chroot "$R" /usr/bin/env -i HOME=/root TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      bash -c "cd /work/wagi-c && $cmd"
  ' in_root "$DIR" "$net" "$cmd"
}

# ---- 4. the README's commands ------------------------------------------------
net=${FRESH_NET:-private}
if [ "$net" != host ]; then
  step "scripts/setup.sh (with the network; make calls it again below)"
  in_root host "bash scripts/setup.sh"
fi

set +e
step "make demo"
in_root "$net" "make demo; rc=\$?; echo '== make demo-stop'; make demo-stop || rc=1; exit \$rc" 2>&1 \
  | tee "$DIR.demo.log"
demo_rc=${PIPESTATUS[0]}

step "make test"
in_root "$net" "make test" 2>&1 | tee "$DIR.test.log"
test_rc=${PIPESTATUS[0]}
set -e

# ---- 5. verdict --------------------------------------------------------------
last() { grep -v '^\s*$' | tail -n 1 | sed -E 's/^\s+//'; }
demo_last=$(sed -n '/^== make demo-stop$/q;p' "$DIR.demo.log" | last)
stop_last=$(sed -n '/^== make demo-stop$/,$p' "$DIR.demo.log" | sed 1d | last)
test_last=$(last < "$DIR.test.log")
rm -f "$DIR.demo.log" "$DIR.test.log"
mins=$(( ($(date +%s) - start + 59) / 60 ))
echo
echo "check-fresh-debian: Debian bookworm, $(git -C "$SRC" log -1 --format='%h %s' "$SHA" | cut -c1-70), ${mins} min"
echo "  make demo (exit $demo_rc, with demo-stop): $demo_last"
echo "  make demo-stop: $stop_last"
echo "  make test (exit $test_rc): $test_last"
if [ "$demo_rc" != 0 ] || [ "$test_rc" != 0 ]; then
  echo "check-fresh-debian: FAILED (log: $LOG)"
  exit 1
fi
echo "check-fresh-debian: ok (log: $LOG)"
