#!/usr/bin/env bash
# Recovery: wprescue replays every rescue file into exactly its sink; afterwards no .dat is left
# and every sink holds exactly the lines a run without the outage would have produced.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
STAT_SEC=${STAT_SEC:-1}

step "1> wprescue batch --stat $STAT_SEC"
wprescue batch --stat "$STAT_SEC"

step "2> rescue data (none left):"
left=$(find ./data/rescue -name '*.dat' -o -name '*.dat.lock' | grep -v '/dead/' || true)
[ -z "$left" ] || fail "rescue files left: $left"
echo "(none)"
grep -q '"files":{}' ./data/rescue/recover.lock || fail "recover.lock still lists files"

step "3> line counts"
wproj stat file

step "4> validate"
wproj validate sink-file -v || fail "validate did not PASS"

expected=$(grep -c ',bench,' ./data/in_dat/gen.dat)
got=$(wc -l < ./data/out_dat/benchmark.dat)
[ "$expected" -eq "$got" ] || fail "benchmark.dat has $got lines, a run without outage has $expected"
echo
echo "recovery: OK (benchmark.dat holds all $got lines)"
