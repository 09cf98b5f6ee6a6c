# Shared by the use-case scripts: strict mode, paths, the built binaries as commands.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
BIN="$REPO/dist/cli"
if [ ! -f "$BIN/wparse.js" ]; then
  echo "error: $BIN/wparse.js not found: build first (cd $REPO && npm install && npm run build)" >&2
  exit 1
fi
wparse() { node "$BIN/wparse.js" "$@"; }
wprescue() { node "$BIN/wprescue.js" "$@"; }
wproj() { node "$BIN/wproj.js" "$@"; }
wpgen() { node "$BIN/wpgen.js" "$@"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }
cd "$HERE"
