#!/usr/bin/env bash
# Inference on a Slurm cluster with srun (one task per GPU): the scene
# pairs are shared among the tasks (see tools/dist_infer.sh).
#
#   bash tools/slurm_infer.sh PARTITION JOB_NAME CONFIG CHECKPOINT \
#       --a-dir A --b-dir B --out OUT [infer.py options]
#
# The output folder must be on a file system every node sees. For several
# nodes export MASTER_ADDR (the first node's host name) and MASTER_PORT.
# Environment: GPUS (total tasks, 4), GPUS_PER_NODE (tasks per node, 4),
# CPUS_PER_TASK (5), SRUN_ARGS (extra srun options, ''), PYTHON (python),
# GRES (generic resources per node, gpu:$GPUS_PER_NODE; set GRES= to an
# empty value on a partition without GPUs).
set -euo pipefail
set -x

if [ $# -lt 4 ]; then
  set +x
  echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/infer.py options]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
GRES=${GRES-gpu:$GPUS_PER_NODE}
PYTHON=${PYTHON:-python}

GRES_ARGS=()
[ -z "$GRES" ] || GRES_ARGS=(--gres="$GRES")
# SRUN_ARGS is split on spaces on purpose (several srun options).
# shellcheck disable=SC2086
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
srun -p "$PARTITION" \
  --job-name="$JOB_NAME" \
  ${GRES_ARGS[@]+"${GRES_ARGS[@]}"} \
  --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 \
  $SRUN_ARGS \
  "$PYTHON" -u "$ROOT/tools/infer.py" "$CONFIG" "$CHECKPOINT" \
  --launcher=slurm "$@"
