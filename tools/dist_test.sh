#!/usr/bin/env bash
# Distributed testing with torchrun (one or more nodes).
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py options]
#
# GPUS is the number of processes started on this node (torchrun's
# --nproc_per_node): one per GPU, or CPU worker processes on a machine
# without GPUs (tools/test.py then uses the gloo backend).
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (python).
set -euo pipefail

# shellcheck source=tools/dist_launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/dist_launch.sh"
dist_launch test.py 1 "$@"
