#!/usr/bin/env bash
# cc-timed.sh — the C compiler as `wagi compile --cc` sees it, timed: runs
# ${REAL_CC:-cc} with the same arguments under /usr/bin/time and appends
# "wall_s user_s sys_s peak_rss_kib" to $CC_TIMES (the RSS is the largest of
# cc and the processes it runs: cc1, as, ld). `--version` is passed through
# untimed.
if [ "$*" = "--version" ]; then exec "${REAL_CC:-cc}" --version; fi
exec /usr/bin/time -f "%e %U %S %M" -a -o "${CC_TIMES:?}" "${REAL_CC:-cc}" "$@"
