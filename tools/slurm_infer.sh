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

# shellcheck source=tools/slurm_launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm_launch.sh"
slurm_launch infer.py CHECKPOINT "$@"
