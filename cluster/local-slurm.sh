#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying the job array in
# cluster/study.sbatch and for tests/test_cluster.py.
#
#   bash cluster/local-slurm.sh start   # installs Slurm and MUNGE if missing, starts the daemons
#   bash cluster/local-slurm.sh stop    # cancels its jobs, stops the daemons it started
#
# Everything lives in its own state folder (LOCAL_SLURM_DIR, default
# /tmp/local-slurm): the MUNGE key, slurm.conf, the daemons' pid files, logs
# and spool. An existing /etc/slurm or /etc/munge setup is never read or
# changed, and the ports are not Slurm's usual ones, so a real installation
# on the same machine is left alone. Clients find this cluster through
#   export SLURM_CONF=/tmp/local-slurm/slurm.conf
# which `start` prints. There is no accounting database: wait for jobs with
# `sbatch --wait` or `squeue`, not `sacct`. Jobs run as the user who submits
# them, so `start` needs root (to install packages and to run slurmd).
set -euo pipefail

STATE=${LOCAL_SLURM_DIR:-/tmp/local-slurm}
CONF=$STATE/slurm.conf
SOCKET=$STATE/munge/munge.socket
NODE=$(hostname -s)
export SLURM_CONF=$CONF

die() { echo "local-slurm.sh: error: $*" >&2; exit 1; }

# A daemon counts as ours only while its pid file names a live process of
# that name, so a stale file or a reused pid is never mistaken for it.
running() {
    local pid_file=$STATE/$1.pid pid
    [[ -s $pid_file ]] || return 1
    pid=$(<"$pid_file")
    [[ -r /proc/$pid/comm && $(<"/proc/$pid/comm") == "$1" ]]
}

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null && return 0
    [[ $(id -u) == 0 ]] || die "Slurm and MUNGE are not installed; run this as root to install them"
    echo "local-slurm.sh: installing slurm-wlm and munge"
    # Debian's packages would start their own daemons with the system's
    # configuration; a policy that forbids starting services keeps only ours.
    # An existing policy is kept as it is.
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
    fi
    local status=0
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null \
        || status=$?
    [[ -z $added_policy ]] || rm -f "$policy"
    [[ $status == 0 ]] || die "apt-get could not install slurm-wlm and munge (status $status)"
}

write_config() {
    # Nothing of ours runs now: the cluster starts afresh, without the jobs
    # of an earlier one, which died with its daemons.
    rm -rf "$STATE/ctld" "$STATE/spool"
    mkdir -p "$STATE"/{munge,ctld,spool,log}
    # MUNGE refuses a key or a socket folder that others can read or write.
    chmod 700 "$STATE" "$STATE/munge"
    if [[ ! -s $STATE/munge/munge.key ]]; then
        # 1 KiB of random bytes, as Debian's own mungekey makes it.
        head -c 1024 /dev/urandom >"$STATE/munge/munge.key"
        chmod 400 "$STATE/munge/munge.key"
    fi
    # One node: all of this machine's CPUs and its memory in MB, so that a
    # job asks for what it will really get.
    local cpus memory
    cpus=$(nproc --all)
    memory=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    cat >"$CONF" <<EOF
# Written by cluster/local-slurm.sh; rewritten at every start.
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups (a container may not offer them) and no accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
# No mail is sent; a program that exists keeps slurmctld from complaining.
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# Finished jobs stay visible to squeue and scontrol for five minutes.
MinJobAge=300
# A cancelled job gets SIGTERM, then SIGKILL 10 s later: main.py needs far
# less to stop its workers.
KillWait=10
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    install_packages
    if running munged && running slurmctld && running slurmd; then
        echo "local-slurm.sh: already running; export SLURM_CONF=$CONF"
        return 0
    fi
    # A part left from an earlier start that did not finish is kept as it is.
    running slurmctld || running slurmd || write_config
    if ! running munged; then
        munged --key-file="$STATE/munge/munge.key" --socket="$SOCKET" --pid-file="$STATE/munged.pid" \
            --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/munged.seed" --force \
            || die "munged did not start; see $STATE/log/munged.log"
    fi
    running slurmctld || slurmctld -f "$CONF" || die "slurmctld did not start; see $STATE/log/slurmctld.log"
    running slurmd || slurmd -f "$CONF" -N "$NODE" || die "slurmd did not start; see $STATE/log/slurmd.log"
    # Ready once the node has registered and takes jobs.
    local state=""
    for _ in $(seq 60); do
        state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
        [[ $state == idle || $state == mixed || $state == allocated ]] && break
        sleep 1
    done
    [[ $state == idle || $state == mixed || $state == allocated ]] \
        || die "node $NODE is '${state:-unknown}' after 60 s, not idle; see the logs in $STATE/log"
    echo "local-slurm.sh: running, node $NODE idle; export SLURM_CONF=$CONF"
}

stop() {
    local stopped=""
    # Jobs first, so that no slurmstepd outlives the daemons that run it.
    if running slurmctld; then
        scancel --quiet --full --partition=local 2>/dev/null || true
        for _ in $(seq 30); do
            [[ -z $(squeue -h -o %i -t running,completing 2>/dev/null) ]] && break
            sleep 1
        done
    fi
    for daemon in slurmd slurmctld munged; do
        running "$daemon" || continue
        local pid
        pid=$(<"$STATE/$daemon.pid")
        kill "$pid"
        for _ in $(seq 50); do
            [[ -d /proc/$pid ]] || break
            sleep 0.2
        done
        [[ ! -d /proc/$pid ]] || kill -KILL "$pid"
        rm -f "$STATE/$daemon.pid"
        stopped+=" $daemon"
    done
    if [[ -n $stopped ]]; then
        echo "local-slurm.sh: stopped$stopped"
    else
        echo "local-slurm.sh: nothing of ours was running"
    fi
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) echo "local-slurm.sh: error: usage: bash cluster/local-slurm.sh start|stop" >&2; exit 2 ;;
esac
