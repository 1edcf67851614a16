#!/usr/bin/env bash
# GPU bench for a lent H100/H200, done in under 5 minutes (not runnable on the CPU-only
# machine: nothing here has been run yet). Writes bench/results/gpu.json and gpu.log.
#
#   bash bench/gpu.sh                  # PYTHON=... to pick the interpreter
#
# 1. Installs the TensorRT-RTX execution provider wheel if the machine can reach PyPI (the
#    lent machine usually cannot: then it is reported as not installed, and the bench goes on).
# 2. bench/gpu_latency.py: fp32 / fp16 / bf16 latency of HPN, the flow net, the parser and the
#    warp-and-refine HPN at 512 and 1024 px (torch eager, channels-last, torch.compile,
#    onnxruntime CUDA, TensorRT-RTX EP) and the whole try-on (own and paper views).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG=bench/results/gpu.log
mkdir -p bench/results
{
  echo "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
  echo "== load average: $(cat /proc/loadavg)"
  $PYTHON -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'ort', o.__version__, o.get_available_providers())"
  if timeout 60 $PYTHON -m pip install -q onnxruntime-ep-nv-tensorrt-rtx-cu12 2>&1 | tail -2; then :; fi
  $PYTHON -m pip show onnxruntime-ep-nv-tensorrt-rtx-cu12 >/dev/null 2>&1 \
    && echo "== TensorRT-RTX EP wheel: installed" \
    || echo "== TensorRT-RTX EP wheel: NOT installed (no PyPI here?); its rows will say so"
  timeout 270 $PYTHON bench/gpu_latency.py --sizes 512,1024 --json bench/results/gpu.json
  echo "== exit $? (124: the time limit cut the torch.compile rows; the JSON keeps the rest)"
} 2>&1 | tee "$LOG"
