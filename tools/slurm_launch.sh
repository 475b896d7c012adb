#!/usr/bin/env bash
# Shared body of tools/slurm_{train,test,infer}.sh: start a python entry of
# tools/ with srun, one task per GPU. Source it and call
#
#   slurm_launch ENTRY FOURTH "$@"
#
# ENTRY is the script under tools/ (train.py, test.py, infer.py); the
# caller's positional arguments are PARTITION JOB_NAME CONFIG FOURTH, where
# FOURTH is CHECKPOINT (passed on as is) or WORK_DIR (passed on as
# --work-dir=WORK_DIR). Errors name the calling script ($0), status 2.
# Environment: GPUS (total tasks, 4), GPUS_PER_NODE (tasks per node, 4),
# CPUS_PER_TASK (5), SRUN_ARGS (extra srun options, ''), PYTHON (python),
# GRES (generic resources per node, gpu:$GPUS_PER_NODE; set GRES= to an
# empty value on a partition without GPUs).

slurm_launch() {
  local entry=$1 fourth=$2
  shift 2
  if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG $fourth [tools/$entry options]" >&2
    exit 2
  fi
  local partition=$1 job_name=$2 config=$3 last=$4
  shift 4
  if [ "$fourth" = WORK_DIR ]; then
    last="--work-dir=$last"
  fi

  local root gpus_per_node gres
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  gpus_per_node=${GPUS_PER_NODE:-4}
  gres=${GRES-gpu:$gpus_per_node}
  local gres_args=()
  [ -z "$gres" ] || gres_args=(--gres="$gres")
  export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
  set -x
  # SRUN_ARGS is split on spaces on purpose (several srun options).
  # shellcheck disable=SC2086
  srun -p "$partition" \
    --job-name="$job_name" \
    ${gres_args[@]+"${gres_args[@]}"} \
    --ntasks="${GPUS:-4}" \
    --ntasks-per-node="$gpus_per_node" \
    --cpus-per-task="${CPUS_PER_TASK:-5}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "${PYTHON:-python}" -u "$root/tools/$entry" "$config" "$last" \
    --launcher=slurm "$@"
}
