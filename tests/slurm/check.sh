#!/bin/bash
# make check-slurm: the studies' LAUNCHER=slurm on a real one-node SLURM
# cluster started here (tests/slurm/cluster.sh), stopped and removed at the end.
#   tests/slurm/check.sh BIN SHARED
# 1. A reduced ICLR grid (pipelines/iclr.mk: every baseline run and two BERT
#    runs of 2 steps at 64 tokens, as the case pipeline/iclr_slice) made once
#    here and once through the cluster, in two folders: every output file but
#    the logs must be byte-identical, and every job must have ended COMPLETED.
# 2. Faults, each through make on that cluster:
#    - a bert-train job cancelled (scancel) after its first checkpoint: make
#      fails naming the job and its log; the next make resumes from the
#      checkpoint, and the model is byte-identical to an uninterrupted run
#    - a job over its memory limit (MEM_TRAIN=20M) and one over its time
#      limit (--time=0:05): a message naming the limit and its variable
#    - SIGTERM to make, and SIGINT to make's process group (^C): the jobs it
#      submitted are cancelled, no job and no bert-train is left running
#    - no controller (SLURM_CONF naming no file, or a controller that does
#      not answer): one line before anything is submitted
# Prints "ok ..." or "FAIL ..." per check and the time taken; ends with
# "N passed, N failed"; exit status 1 if anything failed.
# The conditions of check are shell words evaluated when checked (single-quoted).
# shellcheck disable=SC2016,SC2034
set -u
[ $# -eq 2 ] || { echo "usage: check.sh BIN SHARED" >&2; exit 2; }
bin=$(cd "$1" && pwd) shared=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
t0=$(date +%s)
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # check WHAT CONDITION: ok when the shell words CONDITION succeed
    if eval "$2"; then ok "$1"; else bad "$1"; fi
}
elapsed() { echo "$(($(date +%s) - t0))s"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pipeclf-check-slurm.XXXXXX")
cluster=""
cleanup() {
    [ -n "$cluster" ] && "$here/cluster.sh" stop "$cluster"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

out=$("$here/cluster.sh" start) || exit 1
cluster=$(sed -n 1p <<<"$out")
eval "$(sed -n 2p <<<"$out")"
echo "cluster up in $cluster ($(elapsed))"

# the study's make, in folder $1 (RUNS=r there: the same paths in both)
ICLR_VARS=(BIN="$bin" SHARED="$shared" RUNS=r MAX_LEN=64 JOBS=1)
SLICE_BERT='--max-steps 2 --batch-size 8 --lr 1e-4'
iclr() {
    local dir=$1
    shift
    (cd "$dir" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -j2 -f "$repo/pipelines/iclr.mk" "${ICLR_VARS[@]}" "$@")
}
GRID="baseline r/baseline.rate.svg r/baseline.accuracy.svg r/bert/p2-g1/s42/test.pred.jsonl
      r/bert/p2-accept-g4/s42/test.pred.jsonl r/bert/p2-g1/s42/test.prior.pred.jsonl"
# the jobs still there, but the time-limit test's sleeper
jobs_of_ours() { squeue -h -t PENDING,RUNNING,COMPLETING -o %k | grep -vcx r/sleeper; }

# ---- 1. the reduced grid, here and through SLURM
mkdir -p "$work/local" "$work/slurm"
# shellcheck disable=SC2086
iclr "$work/local" BERT_OPTS="$SLICE_BERT" $GRID >"$work/local.log" 2>&1 ||
    { bad "local grid: $(tail -3 "$work/local.log")"; exit 1; }
echo "local grid made ($(elapsed))"
t1=$(date +%s)
# shellcheck disable=SC2086
iclr "$work/slurm" LAUNCHER=slurm BERT_OPTS="$SLICE_BERT" $GRID >"$work/slurm.log" 2>&1
rc=$?
check "grid through SLURM: make exit status 0 ($(($(date +%s) - t1))s)" '[ "$rc" -eq 0 ]'
[ "$rc" -eq 0 ] || tail -5 "$work/slurm.log"
logs=$(find "$work/slurm/r/slurm" -name '*.log' | wc -l)
done_jobs=$(grep -lE '^== job [0-9]+ COMPLET(ED|ING) on localhost, srun exit status 0$' "$work/slurm/r/slurm"/*.log | wc -l)
check "grid through SLURM: $logs job logs in RUNS/slurm, $done_jobs of them COMPLETED" '[ "$logs" -gt 30 ] && [ "$done_jobs" -eq "$logs" ]'
# logs and the wall times of training (pipelines/timed.sh: the ledger's) differ by nature
files=$(cd "$work/local" && find r -type f ! -name '*.log' ! -name '*.wall' ! -path 'r/slurm/*' | sort)
other=$(cd "$work/slurm" && find r -type f ! -name '*.log' ! -name '*.wall' ! -path 'r/slurm/*' | sort)
differ=""
for f in $files; do cmp -s "$work/local/$f" "$work/slurm/$f" || differ="$differ $f"; done
check "grid: the same $(wc -w <<<"$files") output files (logs and wall times aside), byte for byte${differ:+ (differ:$differ)}" \
    '[ "$files" = "$other" ] && [ -z "$differ" ]'
# the experiment ledger beside RUNS: a row per baseline run trained through SLURM, with its wall time
rows=$(grep -c ',baseline/p' "$work/slurm/ledger.csv" 2>/dev/null)
timed=$(awk -F, '$2 ~ /^baseline\/p/ && $9 > 0' "$work/slurm/ledger.csv" 2>/dev/null | wc -l)
check "grid through SLURM: the ledger has $rows baseline rows, $timed with a wall time" '[ "$rows" -eq 22 ] && [ "$timed" -eq 22 ]'
check "grid: a second make through SLURM has nothing to do" 'iclr "$work/slurm" -q LAUNCHER=slurm BERT_OPTS="$SLICE_BERT" r/baseline.csv ${GRID#baseline}'

# ---- 2. faults, on one more BERT run of the SLURM folder
RUN=r/bert/p2-reject-g2/s42
T=$RUN/model/model.safetensors
FAULT_BERT='--max-steps 12 --batch-size 8 --lr 1e-4 --checkpoint-every 1'
f="$work/slurm"

# over its memory limit
iclr "$f" LAUNCHER=slurm BERT_OPTS="$FAULT_BERT" MEM_TRAIN=20M "$T" >"$work/mem.log" 2>&1
rc=$?
msg=$(grep '^slurm_run: job [0-9]* (TRAIN: r/bert/p2-reject-g2/s42/model/model.safetensors) went over its memory limit (--mem=20M: raise MEM_TRAIN) on localhost; log: r/slurm/bert.p2-reject-g2.s42.model.model.safetensors.log$' "$work/mem.log")
check "memory limit: make fails, one line names the job, --mem=20M, MEM_TRAIN and the log" '[ "$rc" -ne 0 ] && [ -n "$msg" ]'
[ -n "$msg" ] || tail -5 "$work/mem.log"
rm -rf "${f:?}/$RUN/checkpoint"

# over its time limit: a job that sleeps, through the launcher itself; SLURM
# counts limits in minutes and looks every 30 s: it runs beside the others
t_sleep=$(date +%s)
(cd "$f" && exec "$repo/pipelines/slurm_run.sh" TRAIN r r/sleeper --time=0:05 --mem=10M -- sleep 150) >"$work/time.log" 2>&1 &
sleeper=$!

# wait_for SECONDS COMMAND...: until COMMAND succeeds
wait_for() {
    local n=$(($1 * 10))
    shift
    until "$@"; do n=$((n - 1)); [ "$n" -gt 0 ] || return 1; sleep 0.1; done
}
running_train() { squeue -h -t RUNNING -o %k | grep -qx "$T2"; }
# bert-train processes of this test (working in $work: others may train here)
our_trainers() {
    local p n=0
    for p in $(pgrep -x bert-train); do
        case $(readlink "/proc/$p/cwd") in "$work"/*) n=$((n + 1)) ;; esac
    done
    echo "$n"
}
nothing_left() { [ "$(jobs_of_ours)" -eq 0 ] && [ "$(our_trainers)" -eq 0 ]; }

# cancelled mid-run, then resumed
iclr "$f" LAUNCHER=slurm BERT_OPTS="$FAULT_BERT" "$T" >"$work/cancel.log" 2>&1 &
mk=$!
if wait_for 120 test -f "$f/$RUN/checkpoint/checkpoint.bin"; then
    id=$(squeue -h -t RUNNING -o '%i %k' | awk -v t="$T" '$2 == t { print $1; exit }')
    scancel "$id"
fi
wait "$mk"
rc=$?
msg=$(grep "^slurm_run: job ${id:-none} (TRAIN: $T) was cancelled (.*) on localhost; log: r/slurm/bert.p2-reject-g2.s42.model.model.safetensors.log$" "$work/cancel.log")
check "cancelled job: make fails, one line names job ${id:-?} and its log" '[ "$rc" -ne 0 ] && [ -n "$msg" ] && [ ! -e "$f/$T" ]'
[ -n "$msg" ] || tail -5 "$work/cancel.log"
iclr "$f" LAUNCHER=slurm BERT_OPTS="$FAULT_BERT" "$T" >"$work/resume.log" 2>&1
rc=$?
from=$(jq -r .resumed_from_step "$f/$RUN/model/trainer_state.json" 2>/dev/null)
check "rerun: resumes bert-train from its checkpoint (step $from)" '[ "$rc" -eq 0 ] && [ "$from" != null ] && [ -n "$from" ]'
iclr "$work/local" BERT_OPTS="$FAULT_BERT" "$T" >>"$work/local.log" 2>&1
check "rerun: the resumed model is byte-identical to an uninterrupted local run" 'cmp -s "$work/local/$T" "$f/$T"'

# SIGTERM to make, then SIGINT to its process group (^C): nothing left running
T2=r/bert/p2-reject-g4/s42/model/model.safetensors
for sig in TERM INT; do
    rm -rf "${f:?}/r/bert/p2-reject-g4"
    # make in a session of its own, SIGINT not ignored (as from a terminal)
    python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL); os.setsid(); os.chdir(sys.argv[1])
for v in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"): os.environ.pop(v, None)
os.execvp("make", ["make", "-s", "-j2", "-f"] + sys.argv[2:])' \
        "$f" "$repo/pipelines/iclr.mk" "${ICLR_VARS[@]}" LAUNCHER=slurm BERT_OPTS="$FAULT_BERT" "$T2" >"$work/sig$sig.log" 2>&1 &
    mk=$!
    wait_for 60 running_train
    if [ "$sig" = TERM ]; then kill -TERM "$mk"; else kill -INT -- "-$mk"; fi
    wait "$mk"
    rc=$?
    wait_for 15 nothing_left
    left=$(jobs_of_ours)
    check "SIG$sig to make$([ "$sig" = INT ] && echo "'s process group"): make stops ($rc), its job is cancelled, $left jobs and $(our_trainers) bert-train left" \
        '[ "$rc" -ne 0 ] && [ "$left" -eq 0 ] && nothing_left'
    grep -E "^slurm_run: (cancelled job [0-9]+|make went away: cancelling job [0-9]+) \(TRAIN: $T2\)" \
        "$f/r/slurm/bert.p2-reject-g4.s42.model.model.safetensors.log" | tail -1 | sed 's/^/     the job log: /'
done

wait "$sleeper"
rc=$?
msg=$(grep '^slurm_run: job [0-9]* (TRAIN: r/sleeper) went over its time limit (--time=0:05: raise TIME_TRAIN) on localhost; log: r/slurm/sleeper.log$' "$work/time.log")
check "time limit: the job ends, one line names it, --time=0:05 and TIME_TRAIN ($(($(date +%s) - t_sleep))s)" '[ "$rc" -ne 0 ] && [ -n "$msg" ]'
[ -n "$msg" ] || tail -5 "$work/time.log"

# no controller: one line, nothing submitted
before=$(squeue -h -t all -o %i | sort -n | tail -1)
for conf in /nonexistent/slurm.conf "$work/down.conf"; do
    sed 's/^SlurmctldHost=.*/&\nSlurmctldPort=6899/' "$SLURM_CONF" >"$work/down.conf"
    rm -f "$f/r/bert/p2-g1/s42/test.pred.jsonl"
    SLURM_CONF=$conf iclr "$f" LAUNCHER=slurm BERT_OPTS="$SLICE_BERT" r/bert/p2-g1/s42/test.pred.jsonl >"$work/down.log" 2>&1
    rc=$?
    after=$(squeue -h -t all -o %i | sort -n | tail -1)
    check "no controller (SLURM_CONF=$([ "$conf" = "$work/down.conf" ] && echo 'a controller that is down' || echo "$conf")): make fails at once with one line, nothing submitted: $(head -1 "$work/down.log")" \
        '[ "$rc" -ne 0 ] && [ "$(wc -l <"$work/down.log")" -eq 1 ] && grep -q "LAUNCHER=slurm: no .*nothing was submitted" "$work/down.log" && [ "$after" = "$before" ]'
done

echo
echo "check-slurm took $(elapsed)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
