# A private Slurm for tests: one munged, one slurmctld and one slurmd on localhost, with
# their own key, socket, slurm.conf, state, spool and loopback ports under one temp
# directory and a network namespace of their own, so they never disturb a Slurm or munge
# of the host and nothing outside can reach them. Started as root in
# setup_file, stopped by their PIDs in teardown_file (never by name).
#
#   tdrv_slurm_start EPILOG   sets TDRV_SLURM_DIR, SLURM_CONF, TDRV_SLURM_PIDS; EPILOG is the
#                             slurm.conf Epilog (an executable path)
#   tdrv_slurm_stop           cancels what is left, stops the daemons, removes the directory
#   tdrv_slurm_wait_gone JOB [SECONDS]   waits until JOB has left the queue (epilog included)
#   sbatch, srun, scancel, squeue, sinfo  run in the daemons' network namespace (only lo)

tdrv_slurm_log_tail() {
    local f
    for f in "$TDRV_SLURM_DIR"/log/*; do
        [ -s "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }
    done
    return 0
}

tdrv_slurm_start() {
    local epilog=$1 dir ctld_port d_port mem
    # Unix socket paths are limited to 108 bytes: keep the directory short.
    dir=$(mktemp -d /tmp/tdrvslurm.XXXXXX) || return 1
    chmod 755 "$dir"
    export TDRV_SLURM_DIR=$dir
    export TDRV_SLURM_PIDS=
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
    chmod 755 "$dir/munge"
    # munge: its own key, socket, pid, seed and log; --force because we are root
    head -c 1024 /dev/urandom >"$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    munged -F --force --socket="$dir/munge/sock" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/seed" \
        --log-file="$dir/log/munged.log" </dev/null >"$dir/log/munged.out" 2>&1 3>&- &
    TDRV_SLURM_PIDS="$!"
    for _ in $(seq 50); do [ -S "$dir/munge/sock" ] && break; sleep 0.1; done
    if ! munge -S "$dir/munge/sock" -n </dev/null | unmunge -S "$dir/munge/sock" >/dev/null 2>&1; then
        echo "munged did not start" >&2
        tdrv_slurm_log_tail
        tdrv_slurm_stop
        return 1
    fi
    ctld_port=$(tdrv_free_port 46000 46499) && d_port=$(tdrv_free_port 46500 46999) || return 1
    mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 2048))
    export SLURM_CONF="$dir/slurm.conf"
    cat >"$SLURM_CONF" <<CONF
ClusterName=tdrvtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=15
Epilog=$epilog
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    # Slurm 22.05 has no listen address: slurmctld and slurmd bind 0.0.0.0. So they run in
    # a network namespace of their own, reachable from nowhere, and every Slurm command of
    # the tests enters it (the functions below); jobs, and the containers of host-network
    # tasks, run in it too. munged is reached through its Unix socket. Besides lo it has a
    # veth pair whose both ends stay inside, one with a TEST-NET-1 address, because
    # Slurm's getaddrinfo(AI_ADDRCONFIG) finds no address family with lo alone.
    unshare --net sh -c 'ip link set lo up && ip link add sl0 type veth peer name sl1 &&
        ip addr add 192.0.2.1/32 dev sl0 && ip link set sl1 up && ip link set sl0 up &&
        exec "$0" "$@"' \
        slurmctld -D -f "$SLURM_CONF" </dev/null >"$dir/log/slurmctld.out" 2>&1 3>&- &
    TDRV_SLURM_PIDS="$TDRV_SLURM_PIDS $!"
    export TDRV_SLURM_NS=$!
    for _ in $(seq 50); do
        [ "$(readlink "/proc/$TDRV_SLURM_NS/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
        sleep 0.1
    done
    nsenter -t "$TDRV_SLURM_NS" -n slurmd -D -f "$SLURM_CONF" -N localhost </dev/null \
        >"$dir/log/slurmd.out" 2>&1 3>&- &
    TDRV_SLURM_PIDS="$TDRV_SLURM_PIDS $!"
    for _ in $(seq 300); do
        if [ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = idle ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "slurm did not come up within 30 s (node state: $(sinfo -h -o %t 2>&1))" >&2
    tdrv_slurm_log_tail
    tdrv_slurm_stop
    return 1
}

# the Slurm commands, in the daemons' network namespace
tdrv_slurm_ns() { nsenter -t "$TDRV_SLURM_NS" -n "$@"; }
sbatch() { tdrv_slurm_ns sbatch "$@"; }
srun() { tdrv_slurm_ns srun "$@"; }
scancel() { tdrv_slurm_ns scancel "$@"; }
squeue() { tdrv_slurm_ns squeue "$@"; }
sinfo() { tdrv_slurm_ns sinfo "$@"; }

tdrv_slurm_wait_gone() {
    local job=$1 secs=${2:-60}
    for _ in $(seq $((secs * 5))); do
        [ -z "$(squeue -h -j "$job" -o %i 2>/dev/null)" ] && return 0
        sleep 0.2
    done
    echo "job $job still queued after $secs s: $(squeue -h -j "$job" -o '%i %T' 2>&1)" >&2
    return 1
}

tdrv_slurm_stop() {
    local pid jobs
    [ -n "${TDRV_SLURM_DIR:-}" ] || return 0
    if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ] && [ -n "${TDRV_SLURM_NS:-}" ]; then
        jobs=$(squeue -h -o %i 2>/dev/null)
        for j in $jobs; do scancel "$j" 2>/dev/null; tdrv_slurm_wait_gone "$j" 40 || true; done
    fi
    # slurmd, slurmctld, then munged: reverse order of start
    for pid in $(echo "$TDRV_SLURM_PIDS" | tr ' ' '\n' | tac); do
        tdrv_stop_pid "$pid"
    done
    TDRV_SLURM_PIDS=
    unset TDRV_SLURM_NS
    rm -rf "$TDRV_SLURM_DIR"
    unset TDRV_SLURM_DIR
}
