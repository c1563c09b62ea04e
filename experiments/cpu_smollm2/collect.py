"""Gather the small, committable results of the CPU experiment from its run directories.

    python experiments/cpu_smollm2/collect.py RUNS_DIR RESULTS_DIR

Writes RESULTS_DIR/summary.csv (one row per method and eval: pass@k, avg@n, entropy) and, per
method, its metrics.csv, rollouts.jsonl and each eval's summary.csv and samples.jsonl; prints the
summary table.
Checkpoints stay in RUNS_DIR (not committed).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd

from leanfd.io import atomic_write


def main(runs: Path, results: Path) -> None:
    rows = []
    for run in sorted(p for p in runs.iterdir() if (p / "metrics.csv").exists()):
        dest = results / run.name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / "metrics.csv", dest / "metrics.csv")
        shutil.copyfile(run / "config.yaml", dest / "config.yaml")
        if (run / "rollouts.jsonl").exists():  # every training attempt: what the model wrote
            shutil.copyfile(run / "rollouts.jsonl", dest / "rollouts.jsonl")
        summary = run / "eval" / "summary.jsonl"
        if not summary.exists():
            sys.exit(f"{summary} is missing: did `leanfd train` finish for {run.name}?")
        for line in summary.read_text().splitlines():
            r = json.loads(line)
            rows.append({"method": run.name, **r})
            shutil.copyfile(run / "eval" / r["tag"] / "summary.csv", dest / f"eval_{r['tag']}.csv")
            shutil.copyfile(
                run / "eval" / r["tag"] / "samples.jsonl", dest / f"eval_{r['tag']}_samples.jsonl"
            )
        m = pd.read_csv(run / "metrics.csv")
        rows[-1]["train_reward_mean"] = round(float(m["reward_mean"].mean()), 4)
        rows[-1]["train_s"] = round(float(m["step_s"].sum()), 1)
    if not rows:
        sys.exit(f"no training runs (folders with metrics.csv) under {runs}")
    df = pd.DataFrame(rows)
    atomic_write(results / "summary.csv", lambda tmp: df.to_csv(tmp, index=False))
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4g}"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
