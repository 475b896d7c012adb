#!/usr/bin/env bash
# Create the project's virtual environment (.venv) and install the tested stack.
#
# Idempotent: a stamp inside the venv records a hash of the requirement files,
# so a second run with nothing changed returns at once.
#
# mmcv 2.1.0 (with compiled ops, which mmseg imports unconditionally) has no
# wheel on PyPI. It is taken, in order, from
#   1. every directory in $MMCD_WHEELHOUSE (colon-separated),
#   2. ../shared/wheels next to the repository,
#   3. the build cache ${MMCD_CACHE:-~/.cache/mmcd_ext}/wheels,
# and only if none of those holds a wheel that imports with the installed
# torch is it built from PyPI's source distribution (~30-60 min on 2 cores).
# The source build passes the C++ standard the installed torch headers need
# (C++20 for torch >= 2.10; mmcv's setup.py hard-codes C++14/17) and stores
# the wheel in the cache above, outside the repository.
#
# CPU or CUDA ops: mmcv is built with its CUDA ops (MMCV_WITH_OPS=1
# FORCE_CUDA=1, TORCH_CUDA_ARCH_LIST = $TORCH_CUDA_ARCH_LIST, else the
# compute capabilities nvidia-smi reports, else a default list) when torch
# is a CUDA build, nvcc ($CUDA_HOME/bin/nvcc or on PATH) has the same CUDA
# major version and nvidia-smi shows a GPU; otherwise CPU-only ops.
# MMCD_MMCV_CUDA=1 builds the CUDA ops without a visible GPU (a build
# machine) and makes an impossible CUDA build an error; MMCD_MMCV_CUDA=0
# forces the CPU build. A CUDA wheel
# is cached in its own folder, ${MMCD_CACHE}/wheels/cuda<ver>-torch<ver>-sm<archs>,
# and an installed or cached mmcv without CUDA ops is not accepted then.
#
#   tools/misc/install_env.sh --print-mmcv-build   # show the decision only
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${MMCD_VENV:-$ROOT/.venv}
CACHE=${MMCD_CACHE:-$HOME/.cache/mmcd_ext}
MMCV_VERSION=2.1.0

DEFAULT_CUDA_ARCHS='7.5;8.0;8.6;8.9;9.0+PTX'

log() { printf '[install_env] %s\n' "$*"; }

PRINT_PLAN=0
for arg in "$@"; do
  case $arg in
    --print-mmcv-build) PRINT_PLAN=1 ;;
    -h|--help)
      echo "usage: tools/misc/install_env.sh [--print-mmcv-build]"
      echo "  creates .venv and installs the tested stack (make env);"
      echo "  --print-mmcv-build only prints whether mmcv's ops would be built with CUDA, and why"
      exit 0 ;;
    *) echo "[install_env] unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

pick_python() {
  for cand in "${PYTHON:-}" python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1; then echo "$cand"; return; fi
  done
  echo "[install_env] no python3 found on PATH" >&2; exit 1
}

find_nvcc() {
  if [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ]; then
    echo "$CUDA_HOME/bin/nvcc"
  else
    command -v nvcc 2>/dev/null || true
  fi
}

# Decide CPU or CUDA ops for mmcv. Sets MMCV_BUILD (cpu|cuda|unknown),
# MMCV_REASON, TORCH_VER, TORCH_CUDA, NVCC, NVCC_VER, GPU_ARCHS, ARCH_LIST,
# WHEEL_CACHE. $1: the environment's python.
plan_mmcv_build() {
  local vpy=$1 info
  TORCH_VER='' TORCH_CUDA='' NVCC_VER='' GPU_ARCHS='' ARCH_LIST=''
  WHEEL_CACHE=$CACHE/wheels
  NVCC=$(find_nvcc)
  if [ -n "$NVCC" ]; then
    NVCC_VER=$("$NVCC" --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
  fi
  if command -v nvidia-smi >/dev/null 2>&1; then
    GPU_ARCHS=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null \
                | tr -d ' ' | grep -E '^[0-9]+\.[0-9]+$' | sort -u | paste -sd';' - || true)
  fi
  if [ -x "$vpy" ] && info=$("$vpy" -c "import torch; print(torch.__version__); print(torch.version.cuda or '')" 2>/dev/null); then
    TORCH_VER=$(printf '%s\n' "$info" | sed -n 1p)
    TORCH_CUDA=$(printf '%s\n' "$info" | sed -n 2p)
  fi
  if [ "${MMCD_MMCV_CUDA:-}" = 0 ]; then
    MMCV_BUILD=cpu MMCV_REASON='MMCD_MMCV_CUDA=0'
  elif [ -z "$TORCH_VER" ]; then
    MMCV_BUILD=unknown MMCV_REASON="torch is not installed in $VENV yet; the decision follows its build"
  elif [ -z "$TORCH_CUDA" ]; then
    MMCV_BUILD=cpu MMCV_REASON="torch $TORCH_VER is a CPU-only build"
  elif [ -z "$NVCC" ]; then
    MMCV_BUILD=cpu MMCV_REASON="torch $TORCH_VER is a CUDA $TORCH_CUDA build but there is no nvcc (\$CUDA_HOME/bin or PATH)"
  elif [ "${NVCC_VER%%.*}" != "${TORCH_CUDA%%.*}" ]; then
    MMCV_BUILD=cpu MMCV_REASON="nvcc ${NVCC_VER:-of unknown version} ($NVCC) and torch's CUDA $TORCH_CUDA differ in the major version, which torch's extension builder refuses; install the CUDA $TORCH_CUDA toolkit or a torch build for CUDA $NVCC_VER"
  elif [ -z "$GPU_ARCHS" ] && [ "${MMCD_MMCV_CUDA:-}" != 1 ]; then
    MMCV_BUILD=cpu MMCV_REASON="torch $TORCH_VER (CUDA $TORCH_CUDA) and nvcc $NVCC_VER, but nvidia-smi shows no GPU; MMCD_MMCV_CUDA=1 builds the CUDA ops anyway (for TORCH_CUDA_ARCH_LIST or $DEFAULT_CUDA_ARCHS)"
  else
    MMCV_BUILD=cuda MMCV_REASON="torch $TORCH_VER (CUDA $TORCH_CUDA), nvcc $NVCC_VER ($NVCC), GPU compute capability ${GPU_ARCHS:-none visible, forced by MMCD_MMCV_CUDA=1}"
    if [ -n "${TORCH_CUDA_ARCH_LIST:-}" ]; then
      ARCH_LIST=$TORCH_CUDA_ARCH_LIST
    elif [ -n "$GPU_ARCHS" ]; then
      ARCH_LIST=$GPU_ARCHS
    else
      ARCH_LIST=$DEFAULT_CUDA_ARCHS
    fi
    WHEEL_CACHE=$CACHE/wheels/cuda$TORCH_CUDA-torch${TORCH_VER%%+*}-sm$(printf '%s' "$ARCH_LIST" | tr -c '0-9A-Za-z.\n' '_')
  fi
}

print_plan() {
  echo "mmcv_build=$MMCV_BUILD"
  echo "reason=$MMCV_REASON"
  echo "torch=${TORCH_VER:-none}"
  echo "torch_cuda=${TORCH_CUDA:-none}"
  echo "nvcc=${NVCC:-none}${NVCC_VER:+ ($NVCC_VER)}"
  echo "gpu_compute_caps=${GPU_ARCHS:-none}"
  if [ "$MMCV_BUILD" = cuda ]; then
    echo "build_env=MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$ARCH_LIST"
  else
    echo "build_env=MMCV_WITH_OPS=1 FORCE_CUDA=0"
  fi
  echo "wheel_cache=$WHEEL_CACHE"
}

if [ "$PRINT_PLAN" = 1 ]; then
  plan_mmcv_build "$VENV/bin/python"
  print_plan
  if [ "${MMCD_MMCV_CUDA:-}" = 1 ] && [ "$MMCV_BUILD" != cuda ]; then
    echo "[install_env] MMCD_MMCV_CUDA=1 but mmcv's CUDA ops cannot be built: $MMCV_REASON" >&2
    exit 1
  fi
  exit 0
fi

stamp_hash() {
  # the CUDA inputs are part of the stamp: nvcc appearing (or the forced
  # choice changing) re-runs the install
  { cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/pyproject.toml" "$ROOT/tools/misc/install_env.sh"
    echo "nvcc=$(find_nvcc) MMCD_MMCV_CUDA=${MMCD_MMCV_CUDA:-} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-}"
  } | sha256sum | cut -d' ' -f1
}

STAMP=$VENV/.mmcd_ext_stamp
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_hash)" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  PY=$(pick_python)
  log "creating virtual environment $VENV with $($PY --version 2>&1)"
  "$PY" -m venv "$VENV"
fi
VPY=$VENV/bin/python
PIP=("$VPY" -m pip --disable-pip-version-check)

log "installing the pinned stack from requirements/ci.txt (torch is large; first run takes a few minutes)"
"${PIP[@]}" install -q -r "$ROOT/requirements/ci.txt"

plan_mmcv_build "$VPY"
log "mmcv ops: $MMCV_BUILD ($MMCV_REASON)"
if [ "${MMCD_MMCV_CUDA:-}" = 1 ] && [ "$MMCV_BUILD" != cuda ]; then
  log "MMCD_MMCV_CUDA=1 but mmcv's CUDA ops cannot be built: $MMCV_REASON"; exit 1
fi

# mmcv imports with its compiled ops (and, for a CUDA plan, with CUDA ops)
mmcv_ok() {
  "$VPY" - <<PYEOF >/dev/null 2>&1
import mmcv, mmcv.ops
assert mmcv.__version__ == '$MMCV_VERSION', mmcv.__version__
from mmcv.ops import nms, get_compiling_cuda_version  # the compiled extension
if '$MMCV_BUILD' == 'cuda':
    assert get_compiling_cuda_version() != 'not available', 'CPU-only mmcv'
PYEOF
}

try_wheel() {
  local whl=$1
  log "trying mmcv wheel $whl"
  if "${PIP[@]}" install -q --no-deps --force-reinstall "$whl" && mmcv_ok; then
    log "mmcv $MMCV_VERSION with compiled ops installed from $whl"
    return 0
  fi
  log "wheel $whl does not import with this torch (ABI mismatch?) or lacks the $MMCV_BUILD ops; skipping it"
  "${PIP[@]}" uninstall -q -y mmcv >/dev/null 2>&1 || true
  return 1
}

build_mmcv() {
  local std src tmp force_cuda=0
  std=$("$VPY" -c "import torch; v=tuple(int(x) for x in torch.__version__.split('+')[0].split('.')[:2]); print('c++20' if v >= (2, 10) else 'c++17')")
  tmp=$(mktemp -d)
  mkdir -p "$WHEEL_CACHE"
  log "no usable mmcv $MMCV_VERSION wheel found: building it from PyPI's source distribution."
  log "  torch $TORCH_VER headers need -std=$std; mmcv's setup.py hard-codes an older"
  log "  standard, so the flag is raised in a temporary copy of the source ($tmp)."
  if [ "$MMCV_BUILD" = cuda ]; then
    force_cuda=1
    export TORCH_CUDA_ARCH_LIST=$ARCH_LIST
    export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}
    export MMCV_CUDA_ARGS=${MMCV_CUDA_ARGS:--std=$std}
    log "  MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$ARCH_LIST CUDA_HOME=$CUDA_HOME MAX_JOBS=$(nproc);"
    log "  with the CUDA kernels this takes longer than the CPU build (about 1-2 hours on 2 cores)."
  else
    log "  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$(nproc); this takes 30-60 minutes on 2 cores."
  fi
  log "  build log: $CACHE/mmcv-build.log ; the wheel is cached in $WHEEL_CACHE"
  # mmcv's setup.py needs pkg_resources (setuptools < 70); torch itself asks
  # for setuptools >= 77, so the old one is swapped in only for the build.
  "${PIP[@]}" install -q "setuptools<70" ninja wheel
  "${PIP[@]}" download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$tmp"
  tar -xzf "$tmp"/mmcv-$MMCV_VERSION.tar.gz -C "$tmp"
  src=$tmp/mmcv-$MMCV_VERSION
  sed -i -e "s/-std=c++14/-std=$std/g" -e "s/-std=c++17/-std=$std/g" "$src/setup.py"
  ( cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=$force_cuda MAX_JOBS=$(nproc) \
      "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$WHEEL_CACHE" . ) >"$CACHE/mmcv-build.log" 2>&1 &
  local pid=$! t0=$SECONDS total
  # the sources under csrc/pytorch and csrc/pytorch/cpu (+ csrc/pytorch/cuda)
  total=$(( $(find "$src/mmcv/ops/csrc/pytorch" -maxdepth 1 -name '*.cpp' | wc -l) \
           + $(find "$src/mmcv/ops/csrc/pytorch/cpu" -maxdepth 1 -name '*.cpp' | wc -l) ))
  if [ "$force_cuda" = 1 ]; then
    total=$(( total + $(find "$src/mmcv/ops/csrc/pytorch/cuda" -maxdepth 1 \( -name '*.cu' -o -name '*.cpp' \) | wc -l) ))
  fi
  while kill -0 "$pid" 2>/dev/null; do
    sleep 60
    log "  still building mmcv: $(( (SECONDS - t0) / 60 )) min, $(find "$src/build" -name '*.o' 2>/dev/null | wc -l) of ~$total objects compiled"
  done
  if ! wait "$pid"; then
    "${PIP[@]}" install -q "setuptools>=77"
    tail -n 40 "$CACHE/mmcv-build.log" >&2
    log "mmcv build FAILED; full log in $CACHE/mmcv-build.log"; exit 1
  fi
  rm -rf "$tmp"
  "${PIP[@]}" install -q "setuptools>=77"
}

if mmcv_ok; then
  log "mmcv $MMCV_VERSION with compiled ops already installed"
else
  installed=0
  IFS=':' read -r -a houses <<<"${MMCD_WHEELHOUSE:-}"
  houses+=("$ROOT/../shared/wheels" "$WHEEL_CACHE")
  for d in "${houses[@]}"; do
    [ -n "$d" ] && [ -d "$d" ] || continue
    for whl in "$d"/mmcv-$MMCV_VERSION-*.whl; do
      [ -f "$whl" ] || continue
      if try_wheel "$whl"; then installed=1; break 2; fi
    done
  done
  if [ $installed = 0 ]; then
    build_mmcv
    for whl in "$WHEEL_CACHE"/mmcv-$MMCV_VERSION-*.whl; do
      try_wheel "$whl" && installed=1 && break
    done
    [ $installed = 1 ] || { log "the freshly built mmcv wheel does not import; see $CACHE/mmcv-build.log"; exit 1; }
  fi
fi

log "installing mmcd_ext (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

"$VPY" "$ROOT/tools/misc/check_env.py"
stamp_hash >"$STAMP"
log "environment ready: $VENV"
