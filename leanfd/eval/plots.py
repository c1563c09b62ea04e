"""pass@k scaling plots: pass@k against k on a log2 axis, one curve per run."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from leanfd.io import atomic_write


def plot_passk(runs: Mapping[str, pd.DataFrame], out: Path, title: str | None = None) -> Path:
    """Draw each run's ``pass@k`` column against ``k``, with its 95 % bootstrap band where the
    summary has ``pass@k_lo``/``pass@k_hi``, and write a PNG atomically.

    ``runs`` maps a label to a summary table (``summary.csv`` of ``leanfd eval``). The title names
    the suite/split/n when all runs share them.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("plot_passk: no runs to plot")
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    all_k: set[int] = set()
    for label, df in runs.items():
        df = df.sort_values("k")
        (line,) = ax.plot(df["k"], 100 * df["pass@k"], marker="o", label=label)
        if {"pass@k_lo", "pass@k_hi"} <= set(df.columns):  # summaries written before the CIs have none
            ax.fill_between(
                df["k"], 100 * df["pass@k_lo"], 100 * df["pass@k_hi"], color=line.get_color(), alpha=0.2
            )
        all_k.update(int(k) for k in df["k"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(all_k))
    ax.set_xticklabels([str(k) for k in sorted(all_k)])
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k (%)")
    top = max(float(100 * df.get("pass@k_hi", df["pass@k"]).max()) for df in runs.values())
    ax.set_ylim(0, min(100.0, max(10.0, 1.15 * top)))  # an all-zero run still shows a readable axis
    ax.grid(True, which="major", alpha=0.3)
    if title is None:
        title = _common_title(runs)
    ax.set_title(title)
    return _save(fig, ax, out)


def run_labels(paths: Sequence[Path]) -> list[str]:
    """Legend labels for run directories: their names when those differ, else their paths below
    the deepest common folder, with a trainer's ``eval/`` level dropped (``fd/eval/after`` ->
    ``fd/after``)."""
    paths = [Path(p).resolve() for p in paths]
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    common = Path(os.path.commonpath(paths)) if len(paths) > 1 else paths[0].parent
    labels = []
    for p in paths:
        parts = [x for x in p.relative_to(common).parts if x != "eval"] or [p.name]
        labels.append("/".join(parts))
    return labels


def _common_title(runs: Mapping[str, pd.DataFrame]) -> str:
    parts = []
    for col, fmt in (("suite", "{}"), ("split", "{}"), ("n", "n={}"), ("problems", "{} problems")):
        values = {str(df[col].iloc[0]) for df in runs.values() if col in df.columns and len(df)}
        if len(values) == 1:
            parts.append(fmt.format(values.pop()))
    return "pass@k (unbiased estimator)" + (": " + ", ".join(parts) if parts else "")


def plot_turns(runs: Mapping[str, pd.DataFrame], out: Path, title: str | None = None) -> Path:
    """Cumulative success against the turn for episode runs: each k's ``pass@k_turn{t}`` (proved at
    turn <= t) from t = 1 to the run's ``max_turns``, one line per run and k; write a PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("plot_turns: no runs to plot")
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    top, last = 0.0, 1
    for label, df in runs.items():
        turns = sorted(int(c.removeprefix("pass@k_turn")) for c in df.columns if c.startswith("pass@k_turn"))
        if not turns:
            raise ValueError(f"plot_turns: {label} has no pass@k_turn columns (not an episode run)")
        for _, row in df.sort_values("k").iterrows():
            ys = [100 * float(row[f"pass@k_turn{t}"]) for t in turns]
            ax.plot(
                turns,
                ys,
                marker="o",
                label=f"{label} pass@{int(row['k'])}" if len(runs) > 1 else f"pass@{int(row['k'])}",
            )
            top = max(top, *ys)
        last = max(last, turns[-1])
    ax.set_xticks(range(1, last + 1))
    ax.set_xlabel("turn t (proved at a turn <= t)")
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, min(100.0, max(10.0, 1.15 * top)))
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title or _common_title(runs).replace("pass@k (unbiased estimator)", "success by turn"))
    return _save(fig, ax, out)


def _save(fig, ax, out: Path) -> Path:
    """Legend, layout, an atomic PNG write, and the figure closed."""
    import matplotlib.pyplot as plt

    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
