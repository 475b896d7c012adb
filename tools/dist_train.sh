#!/usr/bin/env bash
# Distributed training with torchrun (one or more nodes).
#
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
#
# GPUS is the number of processes started on this node (torchrun's
# --nproc_per_node): one per GPU, or CPU worker processes on a machine
# without GPUs (tools/train.py then uses the gloo backend).
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (python).
# Example, 2 nodes of 4 GPUs, on the second node:
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 \
#     bash tools/dist_train.sh configs/baseline/baseline_r18_levir-256.py 4
set -euo pipefail

# shellcheck source=tools/dist_launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/dist_launch.sh"
dist_launch train.py 0 "$@"
