#!/usr/bin/env bash
# slurm-test.sh: runs the Slurm recipe of examples/lottery/README.md, exactly as written there,
# on a single-node Slurm that this script starts (Debian's slurm-wlm and munge; loopback only,
# nothing outside a temporary folder is touched), on a tiny experiment, and checks that:
#
#   1. the sharded and merged results equal those of a one-machine run;
#   2. a requeued task appends to its log and resumes: it recomputes only what is missing;
#   3. a task that fails makes Slurm cancel the merge job rather than leave it pending.
#
# Run as root (slurmd must): `bash scripts/slurm-test.sh`. Needs slurm-wlm and munge
# (apt-get install slurm-wlm munge), go, and python3. Takes about a minute. Knobs: KEEP=1 keeps
# the temporary folder; SLURM_PORT (default 16817, and the next port) for the daemons.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for cmd in slurmctld slurmd munged sbatch squeue scontrol go python3; do
	command -v "$cmd" >/dev/null || { echo "slurm-test: $cmd not found (apt-get install slurm-wlm munge)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "slurm-test: run as root (slurmd needs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/shears-slurm.XXXXXX)
chmod 711 "$work" # munged wants its socket's folder searchable
port=${SLURM_PORT:-16817}
pids=()
cleanup() {
	local rc=$?
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$rc" != 0 ]; then
		echo "slurm-test: FAILED; logs:" >&2
		tail -n 20 "$work"/*.log "$work"/out*/logs/* 2>/dev/null >&2 || true
	fi
	if [ "${KEEP:-}" = 1 ]; then echo "slurm-test: kept $work"; else rm -rf "$work"; fi
	exit "$rc"
}
trap cleanup EXIT
fail() { echo "slurm-test: $*" >&2; exit 1; }

# munge, on a socket of its own.
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge.key"
munged --foreground --force --socket="$work/munge.sock" --key-file="$work/munge.key" \
	--log-file="$work/munged.log" --pid-file="$work/munged.pid" --seed-file="$work/munged.seed" \
	>"$work/munged.out" 2>&1 &
pids+=($!)

# Slurm: one node (this host, all its CPUs), one partition.
node=$(hostname -s)
cpus=$(nproc)
mkdir -p "$work/state" "$work/spool"
cat >"$work/slurm.conf" <<EOF
ClusterName=shears-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge.sock
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$work/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" >"$work/slurmd.out" 2>&1 &
pids+=($!)
for i in $(seq 60); do
	state=$(scontrol show node "$node" 2>/dev/null | sed -n 's/.*State=\([A-Z+]*\).*/\1/p' | head -1)
	case $state in IDLE*|MIXED*|ALLOCATED*) break ;; esac
	[ "$i" = 60 ] && fail "the node did not come up (state '$state')"
	sleep 1
done
echo "slurm-test: single-node Slurm up ($node, $cpus CPUs)"

# The binary and the recipe, extracted from the README as a user would paste it.
go build -C "$root" -o "$work/lottery" ./examples/lottery
awk '/^### Slurm job array/{s=1} s&&/^```bash$/{n++; if(n==1){c=1; next}} c&&/^```$/{exit} c' \
	"$root/examples/lottery/README.md" >"$work/lottery-slurm.sh"
grep -q 'sbatch' "$work/lottery-slurm.sh" || fail "no Slurm recipe found in examples/lottery/README.md"

# wait_job ID: waits until the job (all its array tasks) has left the queue or finished.
wait_job() {
	for _ in $(seq 300); do
		if ! squeue -h -j "$1" -t PENDING,RUNNING,CONFIGURING,COMPLETING,REQUEUED,RESIZING,SUSPENDED 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 1
	done
	fail "job $1 still queued after 300 s: $(squeue -j "$1" 2>&1)"
}
job_state() { scontrol show job "$1" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
# numbers FOLDER: the results without the training times, for comparison.
numbers() {
	python3 -c 'import json,sys; rows=json.load(open(sys.argv[1]))["rows"]
for r in rows: r.pop("train_seconds", None)
print(json.dumps(sorted(rows, key=lambda r: (r["trial"], r["level"], r["arm"])), sort_keys=True))' "$1/results.json"
}

flags="-iterations 60 -eval-every 30 -levels 2 -trials 3 -controls random -model mlp:16"

# 1. The recipe as pasted, with the lines at its top set for this machine.
cd "$work"
N=2 OUT=$work/out CPUS=1 TIME=10:00 LOTTERY=$work/lottery FLAGS="$flags" bash lottery-slurm.sh | tee submit.out
jid=$(sed -n 's/^array job \([0-9]*\) .*/\1/p' submit.out)
mid=$(sed -n 's/.*merge job \([0-9]*\):.*/\1/p' submit.out)
wait_job "$jid"
wait_job "$mid"
[ "$(job_state "$mid")" = COMPLETED ] || fail "merge job $mid ended $(job_state "$mid"): $(cat out/logs/merge-* 2>&1)"
"$work/lottery" $flags -workers 2 -no-plot -out "$work/single" >single.out
[ "$(numbers out/merged)" = "$(numbers single)" ] || fail "merged results differ from a one-machine run"
echo "slurm-test: ($SECONDS s) 1 ok: $(ls out/logs | wc -l) logs; the merged results equal a one-machine run"

# 2. Requeue task 0 after losing its last level: it appends to its log and recomputes that level only.
log0=$(ls out/logs/lottery-"${jid}"_0.out)
before=$(wc -l <"$log0")
hash=$(ls -d out/shard-0/*/ | head -1)
rm "$hash"trial-0/level-2/ticket/result.json "$hash"trial-0/level-2/random/result.json
scontrol requeue "${jid}_0"
# Slurm holds a requeued job for a while before it may start again; start it now.
for _ in $(seq 20); do scontrol update JobId="${jid}_0" StartTime=now 2>/dev/null && break; sleep 0.5; done
sleep 2
wait_job "$jid"
[ "$(wc -l <"$log0")" -gt "$before" ] || fail "the requeued task's log was overwritten, not appended to"
grep -q "trial 0 level 2 ticket" <(tail -n +$((before + 1)) "$log0") || fail "the requeued task did not recompute the missing level"
grep -q "trainings were already done" <(tail -n +$((before + 1)) "$log0") || fail "the requeued task did not resume"
echo "slurm-test: ($SECONDS s) 2 ok: the requeued task appended to its log and recomputed only the missing level"

# 3. A task that fails: the merge job is cancelled, not left pending.
N=2 OUT=$work/out-bad CPUS=1 TIME=10:00 LOTTERY=$work/lottery FLAGS="$flags -data $work/no-such-folder" \
	bash lottery-slurm.sh | tee submit-bad.out
bjid=$(sed -n 's/^array job \([0-9]*\) .*/\1/p' submit-bad.out)
bmid=$(sed -n 's/.*merge job \([0-9]*\):.*/\1/p' submit-bad.out)
wait_job "$bjid"
for _ in $(seq 60); do
	st=$(job_state "$bmid")
	[ "$st" != PENDING ] && break
	sleep 1
done
[ "$st" = CANCELLED ] || fail "after a failed task the merge job is $st, want CANCELLED"
echo "slurm-test: ($SECONDS s) 3 ok: a failed task cancelled the merge job"
echo "slurm-test: PASS"
