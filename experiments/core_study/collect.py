"""Copy one finished (method, seed) run's committable results into the repository.

    python experiments/core_study/collect.py RUN_DIR DEST

RUN_DIR is a `leanfd eval` run (the base model) or a `leanfd train` run (its evaluation after the
last step is ``eval/after``). DEST gets ``eval/`` (summary.csv, samples.jsonl, passk.png: a
`leanfd eval` run that `leanfd compare` and `leanfd plot` read) and, for a training run,
metrics.csv, rollouts.jsonl and config.yaml. Checkpoints stay in RUN_DIR.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

EVAL_FILES = ("summary.csv", "samples.jsonl", "passk.png")
TRAIN_FILES = ("metrics.csv", "rollouts.jsonl", "config.yaml")


def main(run: Path, dest: Path) -> None:
    trained = (run / "metrics.csv").exists()
    ev = run / "eval" / "after" if trained else run
    missing = [f for f in EVAL_FILES if not (ev / f).exists()]
    missing += [f for f in TRAIN_FILES if trained and not (run / f).exists()]
    if missing:
        sys.exit(f"{run} is not a finished run ({', '.join(missing)} missing): run it to the end first")
    # copied next to the destination, then renamed: DEST holds a whole run or nothing
    tmp = dest.parent / f".{dest.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "eval").mkdir(parents=True)
    for f in EVAL_FILES:
        shutil.copyfile(ev / f, tmp / "eval" / f)
    for f in TRAIN_FILES if trained else ():
        shutil.copyfile(run / f, tmp / f)
    if trained:  # where the run lay is not a setting (and would name this machine's paths)
        lines = (tmp / "config.yaml").read_text().splitlines(keepends=True)
        (tmp / "config.yaml").write_text("".join(x for x in lines if not x.startswith("out:")))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    print(f"results of {run.name} copied to {dest}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
