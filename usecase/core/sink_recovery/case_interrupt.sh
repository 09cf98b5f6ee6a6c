#!/usr/bin/env bash
# An outage: the benchmark sink (test_rescue) is healthy for 1000 records, then down for the rest
# of the run. Records it could not take land in data/rescue/ as .dat files.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LINE_CNT=${LINE_CNT:-10000}
[ "$LINE_CNT" -ge 2000 ] || fail "LINE_CNT must be at least 2000 for the outage to show (got $LINE_CNT)"

step "0> check config, clean outputs, rescue files and run state"
wproj check
wproj data clean --force >/dev/null   # a fresh start: drops what an earlier run left, rescue included

step "1> generate $LINE_CNT sample lines"
wpgen sample -n "$LINE_CNT"

step "2> wparse batch (benchmark sink has a scheduled outage)"
wparse batch

step "3> rescue data:"
find ./data/rescue -name '*.dat' | sort
dats=$(find ./data/rescue -name '*.dat' | wc -l)
[ "$dats" -ge 1 ] || fail "expected at least one .dat rescue file"
wproj rescue stat

step "4> line counts"
wproj stat file

step "5> validate: benchmark is short by what went to rescue (FAIL or WARN expected)"
set +e
out=$(wproj validate sink-file -v)
rc=$?
set -e
echo "$out"
echo "$out" | head -n 1 | grep -Eq 'validate: (FAIL|WARN)' || fail "validate should FAIL or WARN before recovery (exit $rc)"
echo "$out" | grep -Eq 'benchmark/benchmark_file_sink .*Out of range' || fail "benchmark should be out of range before recovery"
echo
echo "interrupt: OK ($dats rescue file(s); run case_recovery.sh next)"
