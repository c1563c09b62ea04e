"""Bootstrap confidence intervals for pass@k: over problems for one run, paired over problems for two
runs, and hierarchical (seeds, then problems) for several training seeds per method.

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


def hierarchical_ci(
    seeds: Sequence[np.ndarray], b: int = B_DEFAULT, seed: int = 0, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One method's pass@k over several training seeds: the mean over seeds and problems, and a
    percentile CI from a hierarchical bootstrap. ``seeds[s][P, K]`` holds seed s's per-problem values
    (the same problems in every seed). Each replicate draws the seeds with replacement, then for each
    drawn seed its own P problems with replacement. With one seed this is :func:`bootstrap_ci`
    (the same draws for the same ``seed``)."""
    arr = np.stack([np.asarray(v, dtype=float) for v in seeds])  # [S, P, K]
    s, p = arr.shape[:2]
    rng = np.random.default_rng(seed)
    prob_idx = rng.integers(0, p, size=(b, s, p))  # drawn first: one seed gives bootstrap_means' draws
    seed_idx = rng.integers(0, s, size=(b, s)) if s > 1 else np.zeros((b, 1), dtype=int)
    reps = arr[seed_idx[:, :, None], prob_idx].mean(axis=(1, 2))
    lo, hi = percentile_ci(reps, level)
    return arr.mean(axis=(0, 1)), lo, hi


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
    """pass@k(B) - pass@k(A) with a CI from a hierarchical bootstrap: seeds, then problems.

    ``a_seeds[s][P, K]`` holds one training seed's per-problem pass@k values; every array covers the
    same problems in the same order. Each replicate draws, for each method independently, as many
    seeds as it has with replacement (training seeds of two methods are independent runs), then for
    draw position j one set of P problem indices shared by A's j-th and B's j-th seed: the
    comparison stays paired over problems, so a problem's difficulty cancels in the difference.
    With one seed per method this is the paired bootstrap over problems.
    """
    a_arr = np.stack([np.asarray(v, dtype=float) for v in a_seeds])  # [Sa, P, K]
    b_arr = np.stack([np.asarray(v, dtype=float) for v in b_seeds])  # [Sb, P, K]
    if a_arr.shape[1:] != b_arr.shape[1:]:
        raise ValueError(f"runs differ in shape (problems, ks): A {a_arr.shape[1:]}, B {b_arr.shape[1:]}")
    sa, p = a_arr.shape[:2]
    sb = b_arr.shape[0]
    rng = np.random.default_rng(seed)
    prob_idx = rng.integers(0, p, size=(b, max(sa, sb), p))
    seed_a = rng.integers(0, sa, size=(b, sa))
    seed_b = rng.integers(0, sb, size=(b, sb))

    def replicate(arr: np.ndarray, seeds: np.ndarray, s: int) -> np.ndarray:
        # arr[seeds[r, j], prob_idx[r, j, i], :] -> mean over problems i, then over seed draws j
        return arr[seeds[:, :, None], prob_idx[:, :s, :]].mean(axis=(1, 2))

    reps = replicate(b_arr, seed_b, sb) - replicate(a_arr, seed_a, sa)
    lo, hi = percentile_ci(reps, level)
    mean_a, mean_b = a_arr.mean(axis=(0, 1)), b_arr.mean(axis=(0, 1))
    unit = "problems (paired)" if sa == sb == 1 else "seeds, then problems (paired)"
    return Difference([int(k) for k in ks], mean_a, mean_b, mean_b - mean_a, lo, hi, unit)


def paired_difference(
    a: np.ndarray, b_values: np.ndarray, ks: Sequence[int], b: int = B_DEFAULT, seed: int = 0
) -> Difference:
    """The paired bootstrap over problems of two runs: the same resampled problem indices for both."""
    return hierarchical_difference([a], [b_values], ks, b=b, seed=seed)
