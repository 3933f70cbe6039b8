#!/bin/bash
# One step of a study as a SLURM job: the launcher prefix of the recipes
# when make runs with LAUNCHER=slurm (pipelines/resources.mk writes the call).
#   slurm_run.sh KIND RUNS TARGET [srun options...] -- COMMAND [ARGS...]
# KIND is the row of the resource table (TRAIN, PREDICT, TOKENIZE,
# BASELINE), RUNS the study's output folder, TARGET the file make is making.
# COMMAND runs under a blocking srun (one task on one node, the options as
# given: --cpus-per-task, --mem, --time, --gres, --partition, ...), so that
# make's parallel jobs are the parallelism and srun's exit status is the
# job's: make stays the bookkeeper. Its standard output and error come back
# here as they are written, so the recipe's redirections happen where make
# runs; the standard error is kept as well in the job log,
# RUNS/slurm/TARGET.log (TARGET's path below RUNS, "/" as "."), one section
# per attempt, with the job id and how the job ended.
# A job that does not end well is named on standard error with its id, its
# state and that log, in one line: over its memory or time limit (which
# variable to raise), cancelled, node failure, or the exit code.
# SIGINT, SIGTERM or SIGHUP here, or the recipe's shell or make going away,
# cancels the job (scancel), pending or running: nothing is left behind.
set -u
me=slurm_run
usage() { echo "usage: slurm_run.sh KIND RUNS TARGET [srun options...] -- COMMAND [ARGS...]" >&2; exit 2; }
[ $# -ge 5 ] || usage
kind=$1 runs=${2%/} target=$3
shift 3
opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
if [ "${1:-}" != -- ] || [ $# -lt 2 ]; then usage; fi
shift

rel=${target#"$runs"/}
logdir=$runs/slurm
log=$logdir/$(printf '%s' "$rel" | tr '/' '.').log
mkdir -p "$logdir" || exit 1
user=$(id -un)
host=$(hostname -s 2>/dev/null || hostname)
# unique among this user's jobs: found again by name in every state
name=pipeclf-$(printf '%s' "$kind" | tr '[:upper:]' '[:lower:]')-$host-$$
opt_value() { # the value of srun option --NAME=VALUE as given, else "not set"
    local o
    for o in "${opts[@]}"; do case $o in --$1=*) printf '%s' "${o#--"$1"=}"; return ;; esac; done
    printf 'not set'
}
job_id() { squeue -h -t all -u "$user" -n "$name" -o %i 2>/dev/null | head -1; }
job_field() { # job_field ID FIELD: JobState, Reason, ExitCode, NodeList, ...
    scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

start=$(stat -c %s "$log" 2>/dev/null || echo 0)
{
    echo "== $(date -u +%FT%TZ) $kind job $name for $target"
    echo "== srun ${opts[*]} -- $*"
} >>"$log"

# make itself may run inside a SLURM job (a batch job holding the study's
# make): each step is still a job of its own, not a step of that job, so the
# job's own variables are not passed on (SLURM_CONF and the like are)
if [ -n "${SLURM_JOB_ID:-}" ]; then
    for v in $(compgen -e | grep -E '^SLURM_(JOB|JOBID|STEP|NODE|NNODES|NTASKS|NPROCS|TASK|CPUS|MEM|GPUS|GRES|TRES|CLUSTER|SUBMIT|PRIO|TOPO|ARRAY|LOCALID|PROCID|DISTRIBUTION|CPU_BIND|LAUNCH|SRUN|STEP_|UMASK|WORKING|EXPORT|HET|DIST|OVERCOMMIT|TIME|PTY)')
    do unset "$v"; done
fi

# stdin: forwarded as it is, unless it is a terminal (srun would read it)
exec 4<&0
[ -t 0 ] && opts+=(--input=none)
(
    set -o pipefail
    srun --ntasks=1 --nodes=1 --quiet --job-name="$name" --comment="$target" "${opts[@]}" "$@" \
        2>&1 1>&3 3>&- <&4 | tee -a "$log" >&2
) 3>&1 &
job=$!

cancelled=""
# shellcheck disable=SC2317 # (called from the traps)
cancel() { # cancel SIGNAL: the job, pending or running; then wait for srun
    cancelled=$1
    trap '' INT TERM HUP
    scancel -u "$user" -n "$name" 2>/dev/null
    local id
    id=$(job_id)
    echo "$me: cancelled job ${id:-?} ($kind: $target) on SIG$1; log: $log" | tee -a "$log" >&2
}
trap 'cancel INT' INT
trap 'cancel TERM' TERM
trap 'cancel HUP' HUP

# the recipe's shell (our parent) and make (its parent) are watched: make
# sends SIGTERM to the shell only, which dies without passing it on
parent=$PPID
grandparent=$(ps -o ppid= -p "$parent" 2>/dev/null | tr -d ' ')
(
    trap - INT TERM HUP
    while kill -0 "$parent" 2>/dev/null && { [ -z "$grandparent" ] || [ "$grandparent" -le 1 ] || kill -0 "$grandparent" 2>/dev/null; }; do
        sleep 2
    done
    echo "$me: make went away: cancelling job $(job_id) ($kind: $target)" >>"$log"
    scancel -u "$user" -n "$name" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
watchdog=$!

rc=0
while :; do
    wait "$job"
    rc=$?
    # a trapped signal ends wait early: wait again for srun to end
    kill -0 "$job" 2>/dev/null || break
done
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
exec 4<&-

id=$(job_id)
state=$([ -n "$id" ] && job_field "$id" JobState)
# a job that failed: its final state (TIMEOUT, CANCELLED, ...) after COMPLETING
i=0
while [ "$rc" -ne 0 ] && [ -n "$id" ] && [ "$i" -lt 20 ]; do
    case $state in PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED) ;; *) break ;; esac
    sleep 0.25
    i=$((i + 1))
    state=$(job_field "$id" JobState)
done
node=$([ -n "$id" ] && job_field "$id" NodeList)
echo "== job ${id:-?} ${state:-(state unknown)} on ${node:-?}, srun exit status $rc" >>"$log"
if [ -n "$cancelled" ]; then
    case $cancelled in INT) exit 130 ;; TERM) exit 143 ;; *) exit 129 ;; esac
fi
[ "$rc" -eq 0 ] && exit 0

# what this attempt's log says about the end
said=$(tail -c +"$((start + 1))" "$log" 2>/dev/null)
lkind=$(printf '%s' "$kind" | tr '[:lower:]' '[:upper:]')
if [ "$state" = OUT_OF_MEMORY ] || grep -qiE 'exceeded memory limit|oom[-_ ]kill|out of memory' <<<"$said"; then
    why="went over its memory limit (--mem=$(opt_value mem): raise MEM_$lkind)"
elif [ "$state" = TIMEOUT ] || grep -q 'DUE TO TIME LIMIT' <<<"$said"; then
    why="went over its time limit (--time=$(opt_value time): raise TIME_$lkind)"
elif [ "$state" = CANCELLED ] || grep -q 'CANCELLED AT' <<<"$said"; then
    reason=$(job_field "$id" Reason)
    why="was cancelled (scancel, preemption or an administrator$([ -n "$reason" ] && [ "$reason" != None ] && echo ": $reason"))"
elif [ "$state" = NODE_FAIL ]; then
    why="lost its node ${node:-?}"
elif [ -z "$id" ]; then
    why="was not run: srun exit status $rc (see the log)"
else
    why="failed, exit code $rc"
fi
echo "$me: job $id ($kind: $target) $why on ${node:-?}; log: $log" | tee -a "$log" >&2
exit "$rc"
