#!/usr/bin/env bash
# GPU smoke test: the samplers, 3 FD and 3 GRPO steps, and the losses' identity tests on CUDA, with
# the tiny random model; no network, no Lean (benchmarks/gpu_smoke.py says what each part does).
#   bash benchmarks/gpu_smoke.sh [--cpu]      # PYTHON=... to pick the interpreter
# Exits non-zero if any part fails; without CUDA (and without --cpu) it skips the GPU parts, exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
# Nothing may reach for the network: the model is built in memory and the tokenizer is local.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export LEANFD_NO_DAEMON=1
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" benchmarks/gpu_smoke.py "$@"
