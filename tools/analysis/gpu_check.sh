#!/usr/bin/env bash
# One-command GPU check (tools/analysis/gpu_check.py): every synthetic config
# trained and evaluated for a few dozen iterations in fp32 and bf16 AMP, the
# TTP SAM-B 512 train step, an mmcv CUDA op; sized for <= 8 minutes on one GPU.
#
#   tools/analysis/gpu_check.sh [--iters 40] [--out-json FILE] ...   (--help)
#
# Exit codes: 0 passed, 1 a check failed, 2 bad arguments, 3 no CUDA device.
# Python: $PYTHON, else the repository's .venv, else python3 on PATH.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY=$ROOT/.venv/bin/python; else PY=python3; fi
fi
cd "$ROOT"
exec "$PY" "$ROOT/tools/analysis/gpu_check.py" "$@"
