"""pass@k against brute-force enumeration of k-subsets; Avg@n; entropy summaries."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from leanfd.eval import avg_at_n, entropy_summary, mean_token_entropy, pass_at_k


def brute_force(n: int, c: int, k: int) -> Fraction:
    """The fraction of k-subsets of n samples (c correct) holding at least one correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(any(samples[i] for i in s) for s in subsets)
    return Fraction(hits, len(subsets))


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_equals_brute_force_exactly(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            exact = brute_force(n, c, k)
            got = pass_at_k(n, c, k)
            assert isinstance(got, float)
            assert got == float(exact), (n, c, k)


def test_pass_at_k_vectorised_matches_scalar():
    ns = np.array([8, 8, 8, 10, 16])
    cs = np.array([0, 1, 8, 3, 5])
    got = pass_at_k(ns, cs, 4)
    assert got.shape == (5,)
    assert list(got) == [pass_at_k(int(n), int(c), 4) for n, c in zip(ns, cs, strict=True)]
    # broadcasting a scalar n over an array of c
    assert list(pass_at_k(8, [0, 1, 2], 2)) == [pass_at_k(8, c, 2) for c in (0, 1, 2)]


def test_pass_at_k_large_n_is_exact_and_in_range():
    # C(1024, 512) overflows float64 by far; the exact product still gives the rational's float.
    n, c, k = 1024, 3, 512
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    assert pass_at_k(n, c, k) == float(exact)
    assert 0.0 <= pass_at_k(n, 1, 1) <= 1.0
    assert pass_at_k(n, 1, 1) == pytest.approx(1 / 1024)


def test_pass_at_k_edge_values():
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 5, 1) == 1.0
    assert pass_at_k(5, 3, 3) == 1.0  # fewer than k wrong samples: every k-subset hits
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "n,c,k,match",
    [(4, 1, 5, "exceeds n=4"), (4, 1, 0, "k=0"), (4, 5, 1, "c must lie"), (4, -1, 1, "c must lie")],
)
def test_pass_at_k_rejects_bad_input(n, c, k, match):
    with pytest.raises(ValueError, match=match):
        pass_at_k(n, c, k)


def test_pass_at_k_rejects_k_above_any_n_in_array():
    with pytest.raises(ValueError, match="exceeds n=2"):
        pass_at_k([8, 2, 8], [1, 1, 1], 4)


def test_pass_at_k_rejects_fractional_counts():
    with pytest.raises(ValueError, match="whole numbers"):
        pass_at_k(4.5, 1, 1)


def test_avg_at_n():
    assert avg_at_n([[True, False, False, False], [True, True, False, False]]) == pytest.approx(0.375)
    assert avg_at_n([[False] * 3]) == 0.0
    with pytest.raises(ValueError):
        avg_at_n([])


def test_entropy_summary_means():
    per_sample = [
        [[1.0, 3.0], [2.0]],  # problem A: sample means 2.0 and 2.0
        [[0.0, 0.0, 6.0]],  # problem B: sample mean 2.0... per token differs
    ]
    s = entropy_summary(per_sample)
    assert s["per_token"] == pytest.approx((1 + 3 + 2 + 0 + 0 + 6) / 6)
    assert s["per_sequence"] == pytest.approx((2 + 2 + 2) / 3)
    assert s["per_problem"] == pytest.approx(2.0)
    s2 = entropy_summary([[[1.0]], [[3.0, 3.0, 3.0]], [[]]])
    assert s2["per_token"] == pytest.approx(10 / 4)
    assert s2["per_sequence"] == pytest.approx(2.0)
    assert math.isnan(mean_token_entropy([]))
