#!/usr/bin/env bash
# Throw-away single-node SLURM cluster for tests (Debian 12, run as root).
#
#   bash tests/slurm/cluster.sh install  # only install slurm-wlm and munge if missing
#   bash tests/slurm/cluster.sh start    # install if needed, configure, start
#   bash tests/slurm/cluster.sh status   # sinfo / squeue
#   bash tests/slurm/cluster.sh stop     # cancel jobs, stop all daemons
#
# Everything (config, munge key + socket, state, spool, logs, pid files) lives
# in one state dir: $ECHOBEAT_SLURM_DIR, default /tmp/echobeat-slurm. The
# system munged (socket, /etc/munge key) is not used. Callers (sbatch, squeue,
# snakemake --executor slurm, ...) must run with
#
#   export SLURM_CONF=$ECHOBEAT_SLURM_DIR/slurm.conf
#
# which `start` prints. One exception to "nothing outside the state dir": the
# snakemake slurm-jobstep plugin strips every SLURM_* variable (SLURM_CONF
# included) before its srun inside the job, so that srun only finds the
# config at the compiled-in default /etc/slurm/slurm.conf. If that file is
# absent, `start` symlinks it to the state dir's slurm.conf and `stop`
# removes the symlink again; an existing /etc/slurm/slurm.conf is never
# touched (snakemake jobs would then fail in srun, and start says so).
#
# The cluster has one node named $(hostname -s) with all CPUs, ~95% of RAM
# and one fake GPU (gres/gpu backed by /dev/null), in two partitions: cpu
# (default) and gpu. There is no accounting database, so `sacct` does not
# work: finished jobs stay visible to squeue/scontrol for MinJobAge seconds,
# are appended to $DIR/jobcomp.txt (state, times, cpu/mem TRES; no gres) and
# their GPU allocations are logged to $DIR/log/slurmctld.log
# ("gres_job_state gres:gpu ... job:<id>").
#
# Env: ECHOBEAT_SLURM_DIR (state dir), ECHOBEAT_SLURM_MIN_JOB_AGE (default
# 300 s), ECHOBEAT_SLURM_START_TIMEOUT (default 60 s).
set -euo pipefail

DIR=${ECHOBEAT_SLURM_DIR:-/tmp/echobeat-slurm}
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF
NODE=$(hostname -s)
# Seconds a finished job stays visible to squeue/scontrol. It must outlive the
# snakemake SLURM plugin's status-poll gap (grows by 10 s per poll up to
# 180 s): a job that vanishes from squeue is treated as still running, so a
# shorter MinJobAge makes snakemake hang. The plugin also falls back to
# (non-working) sacct when MinJobAge < 3 * --slurm-init-seconds-before-status-checks.
MIN_JOB_AGE=${ECHOBEAT_SLURM_MIN_JOB_AGE:-300}
START_TIMEOUT=${ECHOBEAT_SLURM_START_TIMEOUT:-60}

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- pid-file helpers --------------------------------------------------------

# Print the pid recorded in $1 if that process is alive and is the expected
# program ($2); stale pid files (reused pids) are thus not trusted.
live_pid() {
    local pidfile=$1 prog=$2 pid comm
    [[ -s $pidfile ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n $pid ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$prog"* ]] || return 1
    echo "$pid"
}

# Wait up to $2 seconds for pid $1 to exit.
wait_gone() {
    local pid=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# Stop daemons given as name=pidfile pairs: SIGTERM all of them at once (each
# takes 1-2 s to shut down), then wait, escalating to SIGKILL after 15 s.
stop_daemons() {
    local arg name pidfile pid pids=() names=() i
    for arg in "$@"; do
        name=${arg%%=*} pidfile=${arg#*=}
        if pid=$(live_pid "$pidfile" "$name"); then
            log "stopping $name (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid") names+=("$name")
        fi
        rm -f "$pidfile"
    done
    for i in "${!pids[@]}"; do
        wait_gone "${pids[i]}" 15 && continue
        log "${names[i]} did not exit on SIGTERM, sending SIGKILL"
        kill -KILL "${pids[i]}" 2>/dev/null || true
        wait_gone "${pids[i]}" 5 || die "could not kill ${names[i]} (pid ${pids[i]})"
    done
}

# --- install -----------------------------------------------------------------

ensure_packages() {
    local missing=0 cmd
    for cmd in munged slurmctld slurmd sbatch sinfo; do
        command -v "$cmd" >/dev/null || missing=1
    done
    ((missing)) || return 0
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get install -y -q --no-install-recommends slurm-wlm munge)
    # Try without `apt-get update` first: it is slow, and the package lists
    # are often already present.
    if ! "${apt[@]}" >"$DIR/apt.log" 2>&1; then
        log "install failed, retrying after apt-get update"
        apt-get update -q >>"$DIR/apt.log" 2>&1 || true
        "${apt[@]}" >>"$DIR/apt.log" 2>&1 || { cat "$DIR/apt.log" >&2; die "apt-get install failed"; }
    fi
}

# --- config ------------------------------------------------------------------

write_config() {
    local cpus mem_mb
    cpus=$(nproc)
    # Leave ~5% of RAM unallocated: slurmd drains a node whose RealMemory
    # exceeds what it measures.
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)

    # Single fake GPU. gres/gpu needs File= to be an existing device file;
    # /dev/null is accepted and gives the job CUDA_VISIBLE_DEVICES=0.
    cat >"$DIR/gres.conf" <<EOF
NodeName=$NODE Name=gpu File=/dev/null
EOF

    cat >"$CONF" <<EOF
# Generated by tests/slurm/cluster.sh -- throw-away single-node test cluster.
ClusterName=echobeat
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Private munged (see start_munge) so a system munge is not needed/disturbed.
AuthInfo=socket=$DIR/munge/munge.socket

StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Log each job's GPU allocation in slurmctld.log: with no accounting this is
# the only record of a finished job's gres after MinJobAge.
DebugFlags=Gres
MailProg=/bin/true
MpiDefault=none

# No cgroups: works in containers / gVisor and without systemd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none

# No accounting daemon. Finished jobs are appended to a text file instead so
# their state and times can still be checked after MinJobAge.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt

# Consumable CPUs + memory so several small jobs share the node and --mem works.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# The GPU request shows as TresPerJob/TresPerNode in "scontrol show job", not
# in TRES=: AccountingStorageTRES=gres/gpu is fatal without slurmdbd.
GresTypes=gpu

# Fast turnaround for tests: quick kill after time limit, no grace minutes.
KillWait=5
OverTimeLimit=0
MinJobAge=$MIN_JOB_AGE
ReturnToService=2
SchedulerType=sched/backfill
# With one node, a job pending for resources (e.g. the single GPU) blocks all
# later-queued jobs in the main scheduler; only the backfill pass starts them,
# and only if their time limit ends before the blocked job's expected start.
# Run that pass every 2 s instead of 30 s so such jobs start promptly.
SchedulerParameters=bf_interval=2

NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=7-00:00:00 DefMemPerCPU=512 State=UP
PartitionName=gpu Nodes=$NODE Default=NO MaxTime=7-00:00:00 DefMemPerCPU=512 State=UP
EOF
}

# See the header: srun inside snakemake jobs runs without SLURM_CONF.
SYSTEM_CONF=/etc/slurm/slurm.conf

# True if $SYSTEM_CONF is a symlink left by another cluster of this script that no
# longer runs (its `stop` never came: the test run was killed): dangling, or to a
# config of ours whose slurmctld is gone.
stale_link() {
    local target
    [[ -L $SYSTEM_CONF ]] || return 1
    target=$(readlink "$SYSTEM_CONF")
    [[ -e $target ]] || return 0
    head -n 1 "$target" | grep -q "Generated by tests/slurm/cluster.sh" || return 1
    ! live_pid "$(dirname "$target")/slurmctld.pid" slurmctld >/dev/null
}

link_system_conf() {
    if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == "$CONF" ]]; then
        return 0
    elif stale_link; then
        ln -sfn "$CONF" "$SYSTEM_CONF"
        log "replaced the stale symlink $SYSTEM_CONF (a stopped cluster's) -> $CONF (removed by stop)"
    elif [[ -e $SYSTEM_CONF || -L $SYSTEM_CONF ]]; then
        log "WARNING: $SYSTEM_CONF exists and is not ours; left alone. srun" \
            "without SLURM_CONF (e.g. inside snakemake slurm jobs) will not reach this cluster"
    else
        mkdir -p "$(dirname "$SYSTEM_CONF")"
        ln -s "$CONF" "$SYSTEM_CONF"
        log "created symlink $SYSTEM_CONF -> $CONF (removed by stop)"
    fi
}

unlink_system_conf() {
    if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == "$CONF" ]]; then
        rm -f "$SYSTEM_CONF"
    fi
}

# --- daemons -----------------------------------------------------------------

start_munge() {
    local m=$DIR/munge
    live_pid "$m/munged.pid" munged >/dev/null && return 0
    # munged wants the key private to its (here: root) user; the dir stays
    # world-executable so non-root clients can reach the socket.
    install -d -m 0755 "$m"
    if [[ ! -s $m/munge.key ]]; then
        # mungekey exists in munge >= 0.5.14; dd is a fallback for older ones.
        mungekey --create --keyfile="$m/munge.key" 2>/dev/null ||
            dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 status=none
        chmod 0400 "$m/munge.key"
    fi
    # --force: munged refuses to run as root (and with a socket dir under
    # world-writable /tmp) without it.
    munged --force \
        --socket="$m/munge.socket" \
        --key-file="$m/munge.key" \
        --pid-file="$m/munged.pid" \
        --log-file="$DIR/log/munged.log" \
        --seed-file="$m/munged.seed"
}

start_slurm() {
    if ! live_pid "$DIR/slurmctld.pid" slurmctld >/dev/null; then
        # -c: discard job state of a previous run; every start is a fresh cluster.
        slurmctld -c -f "$CONF" || return 1
    fi
    if ! live_pid "$DIR/slurmd.pid" slurmd >/dev/null; then
        slurmd -c -f "$CONF" -N "$NODE" || return 1
    fi
}

dump_logs() {
    local f
    for f in "$DIR"/log/*.log; do
        [[ -e $f ]] || continue
        printf '\n===== %s (last 30 lines) =====\n' "$f" >&2
        tail -n 30 "$f" >&2
    done
}

# Wait until the node is schedulable. Fails fast if a daemon died (e.g. a
# fatal config error) instead of polling a dead controller: each sinfo call
# then blocks ~9 s on connect retries, hence also the `timeout`.
wait_idle() {
    local deadline=$((SECONDS + START_TIMEOUT)) state=""
    while ((SECONDS < deadline)); do
        if ! running; then
            log "a daemon exited during startup"
            return 1
        fi
        state=$(timeout 5 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1) || true
        case $state in
        idle | mixed | allocated) return 0 ;;
        esac
        sleep 0.2
    done
    log "node $NODE not idle after ${START_TIMEOUT}s (state: '${state:-none}')"
    return 1
}

running() {
    live_pid "$DIR/munge/munged.pid" munged >/dev/null &&
        live_pid "$DIR/slurmctld.pid" slurmctld >/dev/null &&
        live_pid "$DIR/slurmd.pid" slurmd >/dev/null
}

# --- commands ----------------------------------------------------------------

cmd_start() {
    [[ $(id -u) -eq 0 ]] || die "must run as root"
    local t0=$SECONDS was_running=0
    mkdir -p "$DIR"
    running && was_running=1
    ensure_packages
    install -d "$DIR/state" "$DIR/spool" "$DIR/log"
    # Only (re)write the config when no SLURM daemon runs: they read it at
    # start, and a half-running cluster must keep the config it started with.
    if ! live_pid "$DIR/slurmctld.pid" slurmctld >/dev/null &&
        ! live_pid "$DIR/slurmd.pid" slurmd >/dev/null; then
        write_config
    fi
    link_system_conf
    # Each step skips daemons that are already alive, so `start` is idempotent.
    if ! { start_munge && start_slurm && wait_idle; }; then
        dump_logs
        # Do not leave a half-started cluster behind: the next `start` would
        # keep its (possibly broken) config instead of rewriting it.
        cmd_stop
        die "cluster failed to start (state dir: $DIR)"
    fi
    if ((was_running)); then
        log "already running"
    else
        log "started in $((SECONDS - t0))s"
    fi
    sinfo
    echo "export SLURM_CONF=$CONF"
}

cmd_stop() {
    # Cancel jobs first: their slurmstepd processes are detached from slurmd
    # and would otherwise outlive it.
    if live_pid "$DIR/slurmctld.pid" slurmctld >/dev/null; then
        local jobs i
        jobs=$(squeue -h -o %i -t PENDING,RUNNING,SUSPENDED,COMPLETING 2>/dev/null) || true
        if [[ -n $jobs ]]; then
            log "cancelling jobs: $(echo "$jobs" | tr '\n' ' ')"
            # shellcheck disable=SC2086  # word-splitting the id list is intended
            scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 150; i++)); do
                [[ -z $(squeue -h -o %i -t PENDING,RUNNING,SUSPENDED,COMPLETING 2>/dev/null) ]] && break
                sleep 0.2
            done
        fi
    fi
    stop_daemons slurmd="$DIR/slurmd.pid" slurmctld="$DIR/slurmctld.pid"
    # munged last: the SLURM daemons may still authenticate while shutting down.
    stop_daemons munged="$DIR/munge/munged.pid"
    unlink_system_conf
    log "stopped"
}

cmd_status() {
    if running; then
        sinfo
        squeue
        echo "export SLURM_CONF=$CONF"
    else
        log "not running (state dir: $DIR)"
        return 3
    fi
}

case ${1:-} in
install)
    mkdir -p "$DIR"
    ensure_packages
    ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
    echo "usage: $0 install|start|stop|status   (state dir: \$ECHOBEAT_SLURM_DIR, default /tmp/echobeat-slurm)" >&2
    exit 2
    ;;
esac
