#!/usr/bin/env bash
# The CPU experiment, exactly as run for the committed results (README.md here).
# Usage: bash experiments/cpu_smollm2/run.sh   (from the repository root, after `make setup`)
set -euo pipefail
here=experiments/cpu_smollm2
cfg=$here/config.yaml
leanfd=.venv/bin/leanfd
steps=${STEPS:-12}
for method in fd grpo fd-grpo; do
  $leanfd train --config "$cfg" --method "$method" --steps "$steps" --out "$here/runs/$method"
done
# pass@k before (the base model, identical in the three runs) and after each method, overlaid
$leanfd plot "$here/runs/fd/eval/before" "$here/runs/fd/eval/after" \
  "$here/runs/grpo/eval/after" "$here/runs/fd-grpo/eval/after" -o "$here/results/passk.png"
$leanfd plot-train "$here/runs/fd" "$here/runs/grpo" "$here/runs/fd-grpo" -o "$here/results/training.png"
.venv/bin/python "$here/collect.py" "$here/runs" "$here/results"
