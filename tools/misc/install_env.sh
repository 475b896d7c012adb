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
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${MMCD_VENV:-$ROOT/.venv}
CACHE=${MMCD_CACHE:-$HOME/.cache/mmcd_ext}
MMCV_VERSION=2.1.0

log() { printf '[install_env] %s\n' "$*"; }

pick_python() {
  for cand in "${PYTHON:-}" python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1; then echo "$cand"; return; fi
  done
  echo "[install_env] no python3 found on PATH" >&2; exit 1
}

stamp_hash() {
  cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/pyproject.toml" "$ROOT/tools/misc/install_env.sh" | sha256sum | cut -d' ' -f1
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

mmcv_ok() {
  "$VPY" - <<PYEOF >/dev/null 2>&1
import mmcv, mmcv.ops
assert mmcv.__version__ == '$MMCV_VERSION', mmcv.__version__
from mmcv.ops import nms  # touches the compiled extension
PYEOF
}

try_wheel() {
  local whl=$1
  log "trying mmcv wheel $whl"
  if "${PIP[@]}" install -q --no-deps --force-reinstall "$whl" && mmcv_ok; then
    log "mmcv $MMCV_VERSION with compiled ops installed from $whl"
    return 0
  fi
  log "wheel $whl does not import with this torch (ABI mismatch?); skipping it"
  "${PIP[@]}" uninstall -q -y mmcv >/dev/null 2>&1 || true
  return 1
}

build_mmcv() {
  local std src tmp
  std=$("$VPY" -c "import torch; v=tuple(int(x) for x in torch.__version__.split('+')[0].split('.')[:2]); print('c++20' if v >= (2, 10) else 'c++17')")
  tmp=$(mktemp -d)
  mkdir -p "$CACHE/wheels"
  log "no usable mmcv $MMCV_VERSION wheel found: building it from PyPI's source distribution."
  log "  torch $("$VPY" -c 'import torch; print(torch.__version__)') headers need -std=$std; mmcv's setup.py hard-codes an older"
  log "  standard, so the flag is raised in a temporary copy of the source ($tmp)."
  log "  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$(nproc); this takes 30-60 minutes on 2 cores."
  log "  build log: $CACHE/mmcv-build.log ; the wheel is cached in $CACHE/wheels"
  # mmcv's setup.py needs pkg_resources (setuptools < 70); torch itself asks
  # for setuptools >= 77, so the old one is swapped in only for the build.
  "${PIP[@]}" install -q "setuptools<70" ninja wheel
  "${PIP[@]}" download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$tmp"
  tar -xzf "$tmp"/mmcv-$MMCV_VERSION.tar.gz -C "$tmp"
  src=$tmp/mmcv-$MMCV_VERSION
  sed -i -e "s/-std=c++14/-std=$std/g" -e "s/-std=c++17/-std=$std/g" "$src/setup.py"
  ( cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$(nproc) \
      "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$CACHE/wheels" . ) >"$CACHE/mmcv-build.log" 2>&1 &
  local pid=$! t0=$SECONDS total
  # CPU build: the sources under csrc/pytorch and csrc/pytorch/cpu
  total=$(( $(find "$src/mmcv/ops/csrc/pytorch" -maxdepth 1 -name '*.cpp' | wc -l) \
           + $(find "$src/mmcv/ops/csrc/pytorch/cpu" -maxdepth 1 -name '*.cpp' | wc -l) ))
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
  houses+=("$ROOT/../shared/wheels" "$CACHE/wheels")
  for d in "${houses[@]}"; do
    [ -n "$d" ] && [ -d "$d" ] || continue
    for whl in "$d"/mmcv-$MMCV_VERSION-*.whl; do
      [ -f "$whl" ] || continue
      if try_wheel "$whl"; then installed=1; break 2; fi
    done
  done
  if [ $installed = 0 ]; then
    build_mmcv
    for whl in "$CACHE"/wheels/mmcv-$MMCV_VERSION-*.whl; do
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
