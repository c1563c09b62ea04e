"""Bootstrap confidence intervals for pass@k: over problems for one run, paired over problems for two
runs, and over seeds and problems together (one problem draw for every seed) for several training
seeds per method.

Every function takes the per-problem unbiased pass@k values, computed once (``values[problem, k]``),
and averages them over resampled index sets; intervals are percentile intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

B_DEFAULT = 1000
LEVEL = 0.95


def percentile_ci(reps: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap replicates ``reps[b, k]``: one (lo, hi) per column."""
    alpha = 100 * (1 - level) / 2
    return np.percentile(reps, alpha, axis=0), np.percentile(reps, 100 - alpha, axis=0)


def bootstrap_means(values: np.ndarray, b: int = B_DEFAULT, seed: int = 0) -> np.ndarray:
    """Replicates ``[b, K]`` of the mean over problems of ``values[P, K]``, problems drawn with
    replacement (each replicate draws P problem indices)."""
    values = np.asarray(values, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(values), size=(b, len(values)))
    return values[idx].mean(axis=1)


def bootstrap_ci(
    values: np.ndarray, b: int = B_DEFAULT, seed: int = 0, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """A percentile CI of the mean over problems of ``values[P, K]`` (one interval per k)."""
    return percentile_ci(bootstrap_means(values, b, seed), level)


def crossed_replicates(
    methods: Sequence[Sequence[np.ndarray]], b: int = B_DEFAULT, seed: int = 0
) -> list[np.ndarray]:
    """Bootstrap replicates ``[b, K]`` of each method's mean over seeds and problems, for a crossed
    design: every seed of every method ran on the same P problems. ``methods[m][s][P, K]`` holds
    method m's seed s per-problem values.

    Each replicate draws one set of P problem indices with replacement, shared by every seed of
    every method (the problems are the same, so a hard problem is hard in all of them and its draw
    must move them together: drawing problems per seed would let problem-level luck average out
    over seeds and understate it), then, per method independently, as many seeds as it has with
    replacement (two methods' training seeds are independent runs). The replicate is the mean over
    the drawn seeds and problems. This resamples the two crossed factors, problems and seeds, as
    Owen's pigeonhole bootstrap does (Owen 2007, Ann. Appl. Stat.): mildly conservative for the
    problem term, while a handful of seeds makes the seed term's spread a rough, low estimate
    ((S - 1)/S of its variance). With one seed, method 0's replicates are
    :func:`bootstrap_means`' (the same draws for the same ``seed``).
    """
    arrays = [np.stack([np.asarray(v, dtype=float) for v in seeds]) for seeds in methods]  # [S, P, K]
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"runs differ in shape (problems, ks): {sorted(shapes)}")
    p = arrays[0].shape[1]
    rng = np.random.default_rng(seed)
    prob_idx = rng.integers(0, p, size=(b, p))  # drawn first: the same stream as bootstrap_means
    reps = []
    for arr in arrays:
        s = arr.shape[0]
        seed_idx = rng.integers(0, s, size=(b, s)) if s > 1 else np.zeros((b, 1), dtype=int)
        by_problem = arr[seed_idx].mean(axis=1)  # [b, P, K]: each replicate's mean over its seed draws
        reps.append(np.take_along_axis(by_problem, prob_idx[:, :, None], axis=1).mean(axis=1))
    return reps


def hierarchical_ci(
    seeds: Sequence[np.ndarray], b: int = B_DEFAULT, seed: int = 0, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One method's pass@k over several training seeds: the mean over seeds and problems, and a
    percentile CI from :func:`crossed_replicates` (one problem draw for all seeds, then the seeds).
    ``seeds[s][P, K]`` holds seed s's per-problem values (the same problems in every seed). With one
    seed this is :func:`bootstrap_ci` (the same draws for the same ``seed``)."""
    (reps,) = crossed_replicates([seeds], b, seed)
    lo, hi = percentile_ci(reps, level)
    return np.mean([np.asarray(v, dtype=float).mean(axis=0) for v in seeds], axis=0), lo, hi


@dataclass
class Difference:
    """pass@k of B minus A per k, with its bootstrap percentile interval."""

    ks: list[int]
    a: np.ndarray
    b: np.ndarray
    diff: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    unit: str  # what was resampled, for the table and the CSV


def hierarchical_difference(
    a_seeds: Sequence[np.ndarray],
    b_seeds: Sequence[np.ndarray],
    ks: Sequence[int],
    b: int = B_DEFAULT,
    seed: int = 0,
    level: float = LEVEL,
) -> Difference:
    """pass@k(B) - pass@k(A) with a CI from :func:`crossed_replicates`: per replicate one problem draw
    shared by every seed of both methods (paired over problems, so a problem's difficulty cancels in
    the difference), and each method's seeds drawn independently.

    ``a_seeds[s][P, K]`` holds one training seed's per-problem pass@k values; every array covers the
    same problems in the same order. With one seed per method this is the paired bootstrap over
    problems.
    """
    rep_a, rep_b = crossed_replicates([a_seeds, b_seeds], b, seed)
    lo, hi = percentile_ci(rep_b - rep_a, level)
    mean_a = np.mean([np.asarray(v, dtype=float).mean(axis=0) for v in a_seeds], axis=0)
    mean_b = np.mean([np.asarray(v, dtype=float).mean(axis=0) for v in b_seeds], axis=0)
    unit = "problems (paired)" if len(a_seeds) == len(b_seeds) == 1 else "seeds and problems (paired)"
    return Difference([int(k) for k in ks], mean_a, mean_b, mean_b - mean_a, lo, hi, unit)


def paired_difference(
    a: np.ndarray, b_values: np.ndarray, ks: Sequence[int], b: int = B_DEFAULT, seed: int = 0
) -> Difference:
    """The paired bootstrap over problems of two runs: the same resampled problem indices for both."""
    return hierarchical_difference([a], [b_values], ks, b=b, seed=seed)
