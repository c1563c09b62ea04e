"""Training curves from ``metrics.csv``: reward, policy entropy, loss and KL(student‖teacher) per
step, one line per run, a dotted line where an ``fd-grpo`` run switches from FD to GRPO."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from leanfd.io import atomic_write

#: (column of metrics.csv, panel title)
PANELS = (
    ("reward_mean", "reward (fraction of attempts proved)"),
    ("entropy", "policy entropy (nats / sampled token)"),
    ("loss", "loss"),
    ("kl_student_teacher", "KL(student ‖ teacher), FD steps"),
)


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """The ``metrics.csv`` of a ``leanfd train`` run directory (clear error if there is none)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: {run_dir} is not a `leanfd train` output directory")
    df = pd.read_csv(path)
    if df.empty:
        raise ValueError(f"{path} has no steps yet: plot it after the first training step")
    return df


def plot_training(runs: Mapping[str, pd.DataFrame], out: Path, title: str | None = None) -> Path:
    """Draw each run's per-step curves (``runs`` maps a label to its metrics table) into one PNG,
    written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("plot_training: no runs to plot")
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), dpi=120, sharex=True)
    for ax, (col, name) in zip(axes.flat, PANELS, strict=True):
        for i, (label, df) in enumerate(runs.items()):
            if col not in df.columns:
                continue
            color = f"C{i}"
            ax.plot(df["step"], df[col], marker=".", color=color, label=label)
            if "phase" in df.columns:
                switch = df.index[df["phase"].ne(df["phase"].shift()) & (df.index > 0)]
                for j in switch:
                    ax.axvline(df.loc[j, "step"] - 0.5, color=color, linestyle=":", alpha=0.7)
        ax.set_title(name, fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("optimizer step")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(title or "training (dotted: fd-grpo switches from FD to GRPO)", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
