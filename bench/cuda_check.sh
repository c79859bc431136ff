#!/usr/bin/env bash
# One-command GPU check: builds dlcore with its CUDA kernels, runs the tests marked `cuda`
# (every op family and whole training runs against the CPU kernels), then prints, against
# PyTorch on the same GPU, the training-step times of the MLP, CNN and LSTM models and the
# GFLOP/s of SGEMM 4096^3 (bench/compare_cuda.py). Meant to finish in under 8 minutes on one
# H100 / H200. Without a GPU it says so and exits with status 2 before building anything.
#
#   bash bench/cuda_check.sh            # from the repository root (or anywhere: it finds it)
#   CUDA_ARCH=90 bash bench/cuda_check.sh   # skip the compute-capability query
#   SKIP_BUILD=1 ...                    # reuse build/cuda-check from an earlier run
#
# The build goes to build/cuda-check (CMake, DLCORE_CUDA=ON, one architecture: the GPU's own)
# and the package it tests is build/cuda-check/pkg/dlcore: the sources of python/dlcore with the
# CUDA _C next to them, so the CPU-only _C of a development tree is never picked up.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="$ROOT/build/cuda-check"
PKG="$BUILD/pkg"
PY="${PYTHON:-python3}"
t0=$(date +%s)
say() { printf '[cuda_check %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

# ---- is there a GPU? --------------------------------------------------------------------------
gpu=""
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu="$(nvidia-smi -L 2>/dev/null | grep -m1 '^GPU' || true)"
fi
if [ -z "$gpu" ]; then
  echo "cuda_check: no NVIDIA GPU found (nvidia-smi is missing or lists no GPU): nothing to check." >&2
  echo "cuda_check: run this on a machine with a CUDA GPU and its driver; the CPU build and tests" >&2
  echo "cuda_check: need no GPU (pip install . && pytest)." >&2
  exit 2
fi
say "GPU: $gpu"

# ---- toolchain --------------------------------------------------------------------------------
if ! command -v nvcc >/dev/null 2>&1; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
    if [ -x "$d/nvcc" ]; then PATH="$d:$PATH"; break; fi
  done
fi
if ! command -v nvcc >/dev/null 2>&1; then
  echo "cuda_check: a GPU is present but nvcc (the CUDA toolkit) is not: install it or put it on PATH" >&2
  exit 2
fi
arch="${CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')}"
arch="${arch:-90}"
say "nvcc: $(nvcc --version | tail -1); building for sm_$arch"

# ---- build ------------------------------------------------------------------------------------
if [ -z "${SKIP_BUILD:-}" ]; then
  pybind11_dir="$("$PY" -m pybind11 --cmakedir)"
  gen=()
  if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
  mkdir -p "$PKG"
  rm -rf "$PKG/dlcore"
  cp -r "$ROOT/python/dlcore" "$PKG/dlcore"
  rm -f "$PKG"/dlcore/_C*.so
  cmake -S "$ROOT" -B "$BUILD" ${gen[@]+"${gen[@]}"} -DDLCORE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
    -Dpybind11_DIR="$pybind11_dir" -DDLCORE_PACKAGE_DIR="$PKG/dlcore" -DPython_EXECUTABLE="$(command -v "$PY")" \
    >"$BUILD.configure.log" 2>&1 || { tail -30 "$BUILD.configure.log"; exit 1; }
  cmake --build "$BUILD" -j "$(nproc)" >"$BUILD.build.log" 2>&1 || { grep -B2 -A12 -m3 'error' "$BUILD.build.log" | head -60; exit 1; }
  say "built $(ls "$PKG"/dlcore/_C*.so)"
fi
export PYTHONPATH="$PKG"
"$PY" -c "import dlcore, sys; assert dlcore.cuda.is_built(), 'the built _C has no CUDA kernels'; \
assert dlcore.cuda.is_available(), 'dlcore sees no CUDA device'; print('dlcore', dlcore.__file__, 'cuda devices:', dlcore.cuda.device_count())"

# ---- tests ------------------------------------------------------------------------------------
say "pytest -m cuda"
status=0
"$PY" -m pytest -q -p no:cacheprovider -m cuda "$ROOT/tests" || status=$?
say "tests finished (status $status)"

# ---- benchmarks -------------------------------------------------------------------------------
say "benchmarks: dlcore vs PyTorch on this GPU"
"$PY" "$ROOT/bench/compare.py" cuda --out "$BUILD/cuda_bench.md" || status=$?
say "done; table in $BUILD/cuda_bench.md"
exit $status
