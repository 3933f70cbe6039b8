#!/bin/sh
# A one-node SLURM cluster on this machine, for the tests (make check-slurm):
#   tests/slurm/cluster.sh start     installs slurm-wlm and munge when missing
#                                    (apt-get, as root), starts munged (a key of
#                                    its own), slurmctld and slurmd on localhost,
#                                    everything in a new temporary directory;
#                                    prints that directory, then a line to eval:
#                                    export SLURM_CONF=DIR/slurm.conf
#   tests/slurm/cluster.sh stop DIR  stops the daemons it started there (by the
#                                    pids it kept in DIR/pids) and removes DIR
# It refuses to start where slurmctld, slurmd, slurmstepd or munged already
# run: a machine with SLURM of its own is not ours to touch. The daemons run
# as root in the foreground (-D, -F) in the background of this script, so
# their pids are known; nothing is written outside DIR (but the packages).
# The node is declared with the CPUs and memory slurmd -C finds; memory is
# a consumable resource (--mem is enforced: jobacct_gather with OverMemoryKill,
# sampled every second), accounting is off (no slurmdbd: job states come
# from squeue/scontrol, which keep a finished job MinJobAge seconds).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PKGS="slurm-wlm munge"
log() { echo "cluster: $*" >&2; }
die() { log "$*"; exit 1; }

daemons_here() { # the pids of SLURM or munge daemons running on this machine
    # shellcheck disable=SC2046,SC2005 # one line of pids
    echo $(for d in slurmctld slurmd slurmstepd munged; do pgrep -x "$d" || true; done)
}

install_missing() {
    missing=""
    for c in slurmctld slurmd srun munged mungekey; do command -v "$c" >/dev/null 2>&1 || missing=1; done
    [ -z "$missing" ] && return 0
    cmd="apt-get install -y --no-install-recommends $PKGS"
    [ "$(id -u)" -eq 0 ] || die "slurm-wlm and munge are missing; run as root: apt-get update && $cmd"
    log "installing $PKGS"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $PKGS >&2
}

wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds
    n=$1
    shift
    i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -le $((n * 4)) ] || return 1
        sleep 0.25
    done
}

start() {
    [ "$(id -u)" -eq 0 ] || die "the test cluster runs its daemons as root: run as root"
    running=$(daemons_here)
    [ -z "$running" ] || die "refusing: SLURM or munge daemons already run on this machine (pids $running); this test starts its own cluster and touches no other"
    install_missing
    # the packages' own services may have started on install (no policy-rc.d)
    running=$(daemons_here)
    [ -z "$running" ] || die "refusing: installing $PKGS started daemons (pids $running); stop them first"

    dir=$(mktemp -d "${TMPDIR:-/tmp}/pipeclf-slurm.XXXXXX")
    chmod 700 "$dir"
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
    : >"$dir/pids"
    # on any failure below: stop what started, remove the directory
    trap 'stop "$dir" >/dev/null 2>&1 || true' EXIT

    mungekey --create --keyfile "$dir/munge/munge.key" >/dev/null 2>&1 ||
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 400 "$dir/munge/munge.key"
    munged -F --force --socket "$dir/munge/munge.socket" --key-file "$dir/munge/munge.key" \
        --pid-file "$dir/munge/munged.pid" --log-file "$dir/munge/munged.log" \
        --seed-file "$dir/munge/munged.seed" >>"$dir/munge/munged.out" 2>&1 &
    echo "munged $!" >>"$dir/pids"
    wait_for 10 test -S "$dir/munge/munge.socket" || die "munged did not start: $(tail -3 "$dir/munge/munged.log" "$dir/munge/munged.out" 2>/dev/null)"

    # the node as slurmd sees it (CPUs, sockets, cores, threads, memory), as localhost
    node=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/')
    sed -e "s|@DIR@|$dir|g" -e "s|@NODE@|$node|" "$here/slurm.conf.in" >"$dir/slurm.conf"
    export SLURM_CONF="$dir/slurm.conf"

    slurmctld -D -i -f "$SLURM_CONF" >>"$dir/slurmctld.out" 2>&1 &
    echo "slurmctld $!" >>"$dir/pids"
    slurmd -D -N localhost -f "$SLURM_CONF" >>"$dir/slurmd.out" 2>&1 &
    echo "slurmd $!" >>"$dir/pids"
    wait_for 30 sh -c 'scontrol ping | grep -q "is UP"' ||
        die "slurmctld does not answer: $(tail -3 "$dir/slurmctld.log" "$dir/slurmctld.out" 2>/dev/null)"
    wait_for 30 sh -c 'sinfo -h -n localhost -o %t | grep -qx idle' ||
        die "the node is not idle: $(sinfo -h -N -o '%N %t %E' 2>&1) $(tail -3 "$dir/slurmd.log" 2>/dev/null)"
    trap - EXIT
    echo "$dir"
    echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
    dir=$1
    [ -f "$dir/pids" ] || die "no $dir/pids: not a directory this script made"
    # the jobs still there first (ours: this cluster has no others), then
    # slurmd (it ends their steps), the controller, munged last
    SLURM_CONF=$dir/slurm.conf timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
    i=0
    while [ -n "$(SLURM_CONF=$dir/slurm.conf timeout 5 squeue -h -t PENDING,RUNNING,COMPLETING -o %i 2>/dev/null)" ] &&
        [ "$i" -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
    for d in slurmd slurmctld munged; do
        pid=$(awk -v d="$d" '$1 == d { print $2 }' "$dir/pids")
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || continue
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
}

case ${1:-} in
    start) start ;;
    stop) [ $# -eq 2 ] || die "usage: cluster.sh stop DIR"; stop "$2" ;;
    *) echo "usage: cluster.sh start | stop DIR" >&2; exit 2 ;;
esac
