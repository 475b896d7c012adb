#!/usr/bin/env bash
# Shared body of tools/dist_{train,test,infer}.sh: start a python entry of
# tools/ with torchrun on one or more nodes. Source it and call
#
#   dist_launch ENTRY WITH_CHECKPOINT "$@"
#
# ENTRY is the script under tools/ (train.py, test.py, infer.py);
# WITH_CHECKPOINT is 1 when the caller's positional arguments are
# CONFIG CHECKPOINT GPUS, 0 when they are CONFIG GPUS. Errors name the
# calling script ($0) and exit with status 2.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (python).

dist_launch() {
  local entry=$1 with_ckpt=$2
  shift 2
  local nargs=2 names='CONFIG GPUS'
  if [ "$with_ckpt" = 1 ]; then
    nargs=3
    names='CONFIG CHECKPOINT GPUS'
  fi
  if [ $# -lt "$nargs" ]; then
    echo "usage: $0 $names [tools/$entry options]" >&2
    exit 2
  fi
  local config=$1 gpus=${!nargs}
  local ckpt=()
  if [ "$with_ckpt" = 1 ]; then
    ckpt=("$2")
  fi
  shift "$nargs"
  if ! [[ $gpus =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: GPUS must be a positive integer (processes per node), got '$gpus'" >&2
    exit 2
  fi
  if [ ! -f "$config" ]; then
    echo "$0: config file '$config' does not exist" >&2
    exit 2
  fi
  if [ "$with_ckpt" = 1 ] && [ ! -f "${ckpt[0]}" ]; then
    echo "$0: checkpoint file '${ckpt[0]}' does not exist" >&2
    exit 2
  fi

  local root python
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  python=${PYTHON:-$(command -v python || command -v python3)}
  # The repository root goes first on PYTHONPATH so the entry finds
  # mmcd_ext even when the package is not installed.
  export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
  exec "$python" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$gpus" \
    "$root/tools/$entry" \
    "$config" \
    ${ckpt[@]+"${ckpt[@]}"} \
    --launcher pytorch "$@"
}
