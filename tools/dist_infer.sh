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

usage() {
  echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/infer.py options]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
if ! [[ $GPUS =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: GPUS must be a positive integer (processes per node), got '$GPUS'" >&2
  exit 2
fi
if [ ! -f "$CONFIG" ]; then
  echo "$0: config file '$CONFIG' does not exist" >&2
  exit 2
fi
if [ ! -f "$CHECKPOINT" ]; then
  echo "$0: checkpoint file '$CHECKPOINT' does not exist" >&2
  exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PORT=${PORT:-29500}
PYTHON=${PYTHON:-$(command -v python || command -v python3)}

# The repository root goes first on PYTHONPATH so tools/infer.py finds
# mmcd_ext even when the package is not installed.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -m torch.distributed.run \
  --nnodes="$NNODES" \
  --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" \
  --master_port="$PORT" \
  --nproc_per_node="$GPUS" \
  "$ROOT/tools/infer.py" \
  "$CONFIG" \
  "$CHECKPOINT" \
  --launcher pytorch "$@"
