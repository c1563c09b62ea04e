"""Compare two methods' eval runs on the same problems: pass@k(B) - pass@k(A) with a bootstrap CI,
paired over problems; with several runs (training seeds) per method, over seeds and problems (one
problem draw shared by every run)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from leanfd.eval.bootstrap import B_DEFAULT, Difference, hierarchical_difference
from leanfd.eval.results import per_problem_pass_at_k, read_run, read_summary


def _check_same(first: Path, other: Path, n0: int, n: int, names0: list[str], names: list[str]) -> None:
    if n != n0:
        raise ValueError(f"runs differ in samples per problem: {first} has n={n0}, {other} has n={n}")
    if names != names0:
        only0, only = sorted(set(names0) - set(names)), sorted(set(names) - set(names0))
        raise ValueError(
            f"runs differ in problems: {len(only0)} only in {first} ({', '.join(only0[:5])}), "
            f"{len(only)} only in {other} ({', '.join(only[:5])}); compare runs on the same suite, "
            f"split and problems, each finished"
        )


def compare_runs(
    a_runs: Sequence[Path], b_runs: Sequence[Path], b: int = B_DEFAULT, seed: int = 0
) -> Difference:
    """Load each run's per-problem pass@k (the ks common to all summaries) and bootstrap B - A.

    Every run must hold the same complete problems with the same ``n``; otherwise a ValueError
    names what differs.
    """
    if not a_runs or not b_runs:
        raise ValueError("compare: give at least one run for A and one for B")
    runs = [Path(r) for r in (*a_runs, *b_runs)]
    ks = sorted(set.intersection(*(set(int(k) for k in read_summary(r)["k"]) for r in runs)))
    if not ks:
        raise ValueError(f"compare: the runs' summaries share no k: {', '.join(map(str, runs))}")
    values, n0, names0 = [], None, None
    for r in runs:
        n, problems = read_run(r)
        names, v = per_problem_pass_at_k(problems, ks)
        if n0 is None:
            n0, names0 = n, names
        _check_same(runs[0], r, n0, n, names0, names)
        values.append(v)
    return hierarchical_difference(values[: len(a_runs)], values[len(a_runs) :], ks, b=b, seed=seed)


def difference_table(d: Difference) -> pd.DataFrame:
    """One row per k: A, B, B - A and the interval of B - A."""
    return pd.DataFrame(
        {
            "k": d.ks,
            "pass@k_A": d.a,
            "pass@k_B": d.b,
            "diff": d.diff,
            "diff_lo": d.lo,
            "diff_hi": d.hi,
            "excludes_0": (d.lo > 0) | (d.hi < 0),
            "resampled": d.unit,
        }
    )
