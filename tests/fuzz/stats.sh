#!/bin/bash
# Prints the FUZZING.md results table from the logs of make fuzz-style runs:
# tests/fuzz/stats.sh [LOG...] (default build/fuzz/logs/*-600.log; a log named
# T-N.log is a run of N seconds, T-short.log of 60)
set -u
echo "| target | date (UTC, end) | seconds | runs (execs) | exec/s | cov | ft | corpus files | peak RSS MB | result |"
echo "|---|---|---|---|---|---|---|---|---|---|"
[ $# -gt 0 ] || set -- build/fuzz/logs/*-600.log
for log in "$@"; do
    [ -f "$log" ] || continue
    t=$(basename "$log"); t=${t%%-*}
    done_line=$(grep -a 'DONE ' "$log" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    secs=$(basename "$log" .log); secs=${secs##*-}; [ "$secs" = short ] && secs=60
    corpus=$(ls "build/fuzz/$t-corpus" 2>/dev/null | wc -l)
    when=$(date -u -r "$log" +%FT%TZ)
    if grep -aq 'ERROR\|broken invariant\|deadly signal' "$log"; then res="CRASH (see log)"
    elif [ -n "$done_line" ]; then res=clean
    else res="running / stopped"; fi
    echo "| $t | $when | $secs | ${runs:--} | ${eps:--} | ${cov:--} | ${ft:--} | $corpus | ${rss:--} | $res |"
done
