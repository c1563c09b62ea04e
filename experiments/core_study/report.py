"""The core study's report: every number of the README's results tables, read from results/.

    .venv/bin/python experiments/core_study/report.py

Reads results/<method>/s<seed>/eval/ (each a finished `leanfd eval` run; collect.py puts them
there) for whatever methods and seeds exist, and writes:
- results/summary.csv: per method and k, pass@k (mean over seeds and problems) with its 95 % CI from
  the bootstrap over seeds and problems (one problem draw for all seeds), each seed's value, and the same for the policy
  entropy (nats per token, mean over problems of the mean over samples);
- results/differences.csv: for each pair of methods with results, B - A per k and for the
  entropy, with the paired CI over seeds and problems (`leanfd compare`'s bootstrap: one problem
  draw for every seed of A and B; base seed s is evaluated with seed s, the seed of the runs it is paired with);
- results/passk.png (one curve per method, shaded 95 % band), results/entropy.png (each seed and the
  method's mean with its CI), results/training.png (every seed's training curves).
Prints both tables as Markdown.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from leanfd.eval.bootstrap import hierarchical_ci, hierarchical_difference
from leanfd.eval.metrics import mean_token_entropy
from leanfd.eval.plots import plot_passk
from leanfd.eval.results import per_problem_pass_at_k, read_run
from leanfd.io import atomic_write

METHODS = ("base", "fd", "grpo", "fd-grpo")
PAIRS = (
    ("base", "fd"),
    ("base", "grpo"),
    ("base", "fd-grpo"),
    ("grpo", "fd"),
    ("fd", "fd-grpo"),
    ("grpo", "fd-grpo"),
)
KS = (1, 2, 4, 8, 16)  # the default of --ks
B = 2000  # bootstrap resamples


def load_method(root: Path, method: str, ks=KS) -> dict[str, np.ndarray]:
    """seed name -> per-problem values [P, len(ks) + 1]: pass@k for each k, then the entropy."""
    out = {}
    for run in sorted((root / method).glob("s*/eval")):
        _, problems = read_run(run)
        names, passk = per_problem_pass_at_k(problems, ks)
        ent = [
            np.mean([mean_token_entropy(r["entropies"]) for r in problems[p] if r["entropies"]])
            for p in names
        ]
        out[run.parent.name] = (names, np.column_stack([passk, ent]))
    names0 = next(iter(out.values()))[0] if out else None
    for seed, (names, _) in out.items():
        if names != names0:
            raise SystemExit(f"{root / method / seed} holds other problems than its first seed: rerun it")
    return {s: v for s, (_, v) in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--ks", default=",".join(map(str, KS)), help="k values, each <= the runs' n")
    args = ap.parse_args()
    root = Path(args.results)
    ks = [int(k) for k in args.ks.split(",")]
    cols = [f"pass@{k}" for k in ks] + ["entropy"]
    data = {m: load_method(root, m, ks) for m in METHODS}
    data = {m: v for m, v in data.items() if v}
    if not data:
        raise SystemExit(f"no finished runs under {root}: run run.sh first")

    rows = []
    for m, seeds in data.items():
        mean, lo, hi = hierarchical_ci(list(seeds.values()), b=B)
        for j, c in enumerate(cols):
            rows.append(
                {"method": m, "metric": c, "seeds": len(seeds), "mean": mean[j], "lo": lo[j], "hi": hi[j]}
                | {s: float(v[:, j].mean()) for s, v in seeds.items()}
            )
    summary = pd.DataFrame(rows)
    atomic_write(root / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))

    diffs = []
    for a, b in PAIRS:
        if a in data and b in data:
            # seed draw j pairs A's and B's j-th seeds over the same problems (same seed: same eval prompts)
            d = hierarchical_difference(list(data[a].values()), list(data[b].values()), range(len(cols)), b=B)
            for j, c in enumerate(cols):
                diffs.append(
                    {
                        "A": a,
                        "B": b,
                        "metric": c,
                        "seeds_A": len(data[a]),
                        "seeds_B": len(data[b]),
                        "A_mean": d.a[j],
                        "B_mean": d.b[j],
                        "B_minus_A": d.diff[j],
                        "lo": d.lo[j],
                        "hi": d.hi[j],
                        "excludes_0": bool(d.lo[j] > 0 or d.hi[j] < 0),
                    }
                )
    differences = pd.DataFrame(diffs)
    atomic_write(root / "differences.csv", lambda tmp: differences.to_csv(tmp, index=False))

    curves = {}
    for m in data:
        s = summary[(summary.method == m) & summary.metric.str.startswith("pass@")]
        curves[f"{m} ({len(data[m])} seed{'s' if len(data[m]) > 1 else ''})"] = pd.DataFrame(
            {
                "k": ks,
                "pass@k": s["mean"].to_numpy(),
                "pass@k_lo": s["lo"].to_numpy(),
                "pass@k_hi": s["hi"].to_numpy(),
            }
        )
    plot_passk(
        curves,
        root / "passk.png",
        title=f"{len(next(iter(next(iter(data.values())).values())))} problems, 95 % CI: seeds and problems",
    )
    _plot_entropy(summary, data, root / "entropy.png")
    _plot_training(root)

    print(_markdown(_wide(summary)))
    print()
    print(_markdown(summary))
    if not differences.empty:
        print()
        print(_markdown(differences))


def _wide(summary: pd.DataFrame) -> pd.DataFrame:
    """The README's table: one row per method, each metric as ``mean [lo, hi]`` in points (entropy
    in nats)."""
    rows = []
    for m, g in summary.groupby("method", sort=False):
        row = {"method": m, "seeds": int(g["seeds"].iloc[0])}
        for r in g.itertuples(index=False):
            scale, fmt = (1, "{:.2f}") if r.metric == "entropy" else (100, "{:.1f}")
            row[r.metric] = (
                f"{fmt.format(scale * r.mean)} [{fmt.format(scale * r.lo)}, {fmt.format(scale * r.hi)}]"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(df: pd.DataFrame) -> str:
    """A Markdown table (pandas' to_markdown needs tabulate, not a dependency for one printout)."""
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(df.columns) + " |", "|" + " --- |" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _plot_entropy(summary: pd.DataFrame, data: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ent = summary[summary.metric == "entropy"].set_index("method")
    for i, m in enumerate(data):
        r = ent.loc[m]
        ax.errorbar([i], [r["mean"]], yerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]], fmt="o", capsize=6)
        seeds = [float(v[:, -1].mean()) for v in data[m].values()]
        ax.scatter([i + 0.15] * len(seeds), seeds, marker="x", color="grey")
    ax.set_xticks(range(len(data)), list(data))
    ax.set_xlim(-0.5, len(data) - 0.5)
    ax.set_ylabel("entropy (nats per token, eval samples)")
    ax.set_title("policy entropy on the evaluation samples: mean, 95 % CI, each seed (x)", fontsize=10)
    ax.grid(True, alpha=0.3)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))
    plt.close(fig)


def _plot_training(root: Path) -> None:
    from leanfd.train.plots import plot_training, read_metrics

    runs = {
        f"{p.parent.name}/{p.name}": read_metrics(p)
        for p in sorted(root.glob("*/s*"))
        if (p / "metrics.csv").exists()
    }
    if runs:
        plot_training(runs, root / "training.png", title="training curves, every seed")


if __name__ == "__main__":
    main()
