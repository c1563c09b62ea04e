#!/usr/bin/env bash
# The core study's main runs (README.md here), the full design: the base model and FD, GRPO and
# FD->GRPO, 3 seeds each, then the report.
#   bash experiments/core_study/run.sh                       # from the repository root, after `make setup`
#   METHODS="base grpo" SEEDS="0" bash experiments/core_study/run.sh    # a part of the design
# Each (method, seed) runs under RUNS (default: leanfd's cache directory, so checkpoints never enter
# the repository); a run that was cut off resumes from its newest checkpoint (train) or its samples
# (eval). When one ends, collect.py copies its results to results/<method>/s<seed>/ (commit them
# then); a (method, seed) whose results are there is skipped. report.py reads only results/.
set -euo pipefail
here=experiments/core_study
leanfd=.venv/bin/leanfd
py=.venv/bin/python
runs=${RUNS:-$($py -c 'from leanfd.io import cache_dir; print(cache_dir() / "core_study")')}
for seed in ${SEEDS:-0 1 2}; do
  for method in ${METHODS:-base fd grpo fd-grpo}; do
    dest=$here/results/$method/s$seed
    if [ -f "$dest/eval/summary.csv" ]; then
      echo "skip $method seed $seed: $dest holds its results"
      continue
    fi
    echo "== $method seed $seed ($(date -u +%H:%M:%S))"
    if [ "$method" = base ]; then
      # The trainer's evaluation, run once per seed for every method: the same 49 test problems,
      # n = 16, the same seed, few-shot examples (3 from valid, few-shot seed 0) and sampling
      # settings as config.yaml (temperature 1, top-p 1, <= 48 new tokens, the chat prompt).
      $leanfd eval --suite core --split test --model smollm2-135m -n 16 -k 1,2,4,8,16 \
        --few-shot 3 --few-shot-seed 0 --seed "$seed" --temperature 1.0 --top-p 1.0 --max-new-tokens 48 \
        --prompt chat --out "$runs/base/s$seed"
    else
      $leanfd train --config "$here/config.yaml" --method "$method" --seed "$seed" \
        --out "$runs/$method/s$seed" --resume auto
    fi
    $py "$here/collect.py" "$runs/$method/s$seed" "$dest"
  done
done
$py "$here/report.py"
