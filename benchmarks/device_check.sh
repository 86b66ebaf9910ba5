#!/usr/bin/env bash
# The GPU checks, in one go, for a machine with a CUDA device (the device tool's H200 machines have
# python3 with torch, timm, numpy and pytest, but not the bytecode package):
#
#   here, once:  mkdir -p .git/info; echo /.whl/ >> .git/info/exclude
#                python -m pip download --no-deps --only-binary=:all: -d .whl bytecode
#   there:       bash benchmarks/device_check.sh          (carry: [".whl"])
#
# Runs tests/test_cuda.py and tests/test_copies.py, then benchmarks/bench_cuda.py (ViT-B/16,
# batch 64, all 12 attention maps captured), about two minutes in all.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
export PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_copies.py
tests=$?
python3 benchmarks/bench_cuda.py --rounds "${ROUNDS:-10}"
bench=$?
exit $((tests || bench))
