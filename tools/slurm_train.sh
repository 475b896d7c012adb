#!/usr/bin/env bash
# Training on a Slurm cluster with srun (one task per GPU).
#
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
#
# Environment: GPUS (total tasks, 4), GPUS_PER_NODE (tasks per node, 4),
# CPUS_PER_TASK (5), SRUN_ARGS (extra srun options, ''), PYTHON (python),
# GRES (generic resources per node, gpu:$GPUS_PER_NODE; set GRES= to an
# empty value on a partition without GPUs).
set -euo pipefail

# shellcheck source=tools/slurm_launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_launch.sh"
slurm_launch train.py WORK_DIR "$@"
