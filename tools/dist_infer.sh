#!/usr/bin/env bash
# Distributed inference with torchrun (one or more nodes): the scene pairs
# are shared among the processes, each writes its own outputs, rank 0 the
# merged ones. Run the same command with --resume to continue a run.
#
#   bash tools/dist_infer.sh CONFIG CHECKPOINT GPUS --a-dir A --b-dir B \
#       --out OUT [tools/infer.py options]
#
# GPUS is the number of processes started on this node (torchrun's
# --nproc_per_node): one per GPU (with --device cuda), or CPU worker
# processes. The processes coordinate through a gloo process group.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (python).
set -euo pipefail

# shellcheck source=tools/dist_launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/dist_launch.sh"
dist_launch infer.py 1 "$@"
