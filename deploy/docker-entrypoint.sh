#!/bin/sh
# An empty work-root volume gets the starting point of `wproj init` (logs to stderr), then the
# command is exec'd: the daemon is PID 1 and gets SIGTERM / SIGHUP itself (it handles all of them).
set -e
if [ ! -f "$WPR_WORK_ROOT/conf/wparse.yaml" ]; then
  wproj init -w "$WPR_WORK_ROOT" >&2
  sed -i 's#^log: { level: info, file: "./data/logs/{cmd}.log" }.*#log: { level: info, file: /dev/stderr }#' "$WPR_WORK_ROOT/conf/wparse.yaml"
fi
exec "$@"
