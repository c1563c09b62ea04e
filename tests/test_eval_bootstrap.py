"""Bootstrap CIs for pass@k against hand-computed cases; `leanfd compare` on hand-written runs (no
Lean, no model); the hierarchical bootstrap's resampling unit; the CI bands of the plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanfd.cli import app
from leanfd.eval.bootstrap import (
    bootstrap_ci,
    bootstrap_means,
    crossed_replicates,
    hierarchical_ci,
    hierarchical_difference,
    paired_difference,
)
from leanfd.eval.compare import compare_runs
from leanfd.eval.results import complete_problems, read_summary, summarize, write_records, write_summary


def test_bootstrap_ci_matches_the_enumerated_bootstrap_distribution():
    # 3 problems with pass@1 0, 0.5, 1. The 27 equally likely resamples give the sum (in halves)
    # S = 0..6 with counts 1, 3, 6, 7, 6, 3, 1: CDF 1, 4, 10, 17, 23, 26, 27 (/27). The 25th
    # percentile falls in S = 2 (4/27 < 0.25 < 10/27): mean 1/3; the 75th in S = 4: mean 2/3.
    # At 95 %: P(S = 0) = 1/27 > 2.5 %, so the interval is the full [0, 1].
    values = np.array([[0.0], [0.5], [1.0]])
    lo, hi = bootstrap_ci(values, b=20000, seed=1, level=0.5)
    assert lo[0] == pytest.approx(1 / 3) and hi[0] == pytest.approx(2 / 3)
    lo, hi = bootstrap_ci(values, b=20000, seed=1)
    assert (lo[0], hi[0]) == (0.0, 1.0)


def test_bootstrap_means_equal_a_direct_loop_and_are_seeded():
    values = np.random.default_rng(5).random((7, 3))
    reps = bootstrap_means(values, b=50, seed=3)
    idx = np.random.default_rng(3).integers(0, 7, size=(50, 7))
    direct = np.array([[sum(values[i, j] for i in row) / 7 for j in range(3)] for row in idx])
    np.testing.assert_allclose(reps, direct)
    np.testing.assert_array_equal(reps, bootstrap_means(values, b=50, seed=3))
    assert not np.array_equal(reps, bootstrap_means(values, b=50, seed=4))


def test_paired_bootstrap_uses_the_same_problems_for_both_runs():
    # B is A plus 0.25 on every problem, while A's problems differ widely: paired, every resample
    # gives exactly 0.25; resampled independently the interval would span tens of points.
    a = np.array([[0.0], [0.25], [0.5], [0.75]])
    d = paired_difference(a, a + 0.25, ks=[1], b=500)
    assert d.diff[0] == pytest.approx(0.25)
    assert d.lo[0] == pytest.approx(0.25) and d.hi[0] == pytest.approx(0.25)
    assert d.unit == "problems (paired)"


def test_hierarchical_bootstrap_resamples_seeds():
    # Every problem alike within a seed, so only the seed draw varies: A's seeds are all-0 and all-1,
    # B's are 0.5 and 0.5. A's replicate mean is 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so
    # B - A spans [-0.5, 0.5]; a bootstrap over problems alone would give [0, 0].
    a = [np.zeros((5, 1)), np.ones((5, 1))]
    b = [np.full((5, 1), 0.5), np.full((5, 1), 0.5)]
    d = hierarchical_difference(a, b, ks=[1], b=4000, seed=2)
    assert d.diff[0] == 0.0
    assert (d.lo[0], d.hi[0]) == (-0.5, 0.5)
    assert d.unit == "seeds and problems (paired)"


def test_hierarchical_bootstrap_draws_one_problem_set_for_every_seed():
    # Two identical seeds, problems worth 0 and 1, B all 0. The seeds ran on the same two problems,
    # so one problem draw serves both: A's replicate is the mean of 2 fair coin flips (0, 0.5, 1 with
    # probabilities 1/4, 1/2, 1/4), and the 80 % interval of B - A is [-1, 0]. Fresh problems for
    # each seed (the flawed bootstrap of an earlier version) would make it the mean of 4 flips, an
    # interval of [-0.75, -0.25]: more seeds seemed to pin down which problems were drawn.
    a = [np.array([[0.0], [1.0]])] * 2
    b = [np.zeros((2, 1))] * 2
    d = hierarchical_difference(a, b, ks=[1], b=20000, seed=0, level=0.8)
    assert (d.lo[0], d.hi[0]) == (-1.0, 0.0)


def test_copies_of_one_seed_leave_the_interval_of_that_seed():
    # Seeds that agree on every problem add no information about the problems: the interval over
    # 3 copies of one seed is that seed's bootstrap interval over problems, draw for draw.
    values = np.random.default_rng(1).random((11, 2))
    _, lo, hi = hierarchical_ci([values] * 3, b=500, seed=4)
    blo, bhi = bootstrap_ci(values, b=500, seed=4)
    np.testing.assert_allclose(lo, blo)  # equal up to rounding: the mean of 3 copies of x
    np.testing.assert_allclose(hi, bhi)
    d = hierarchical_difference([values] * 3, [values + 0.1] * 2, ks=[1, 2], b=500, seed=4)
    np.testing.assert_allclose(d.lo, 0.1)
    np.testing.assert_allclose(d.hi, 0.1)


def test_crossed_replicates_equal_a_direct_loop():
    # The vectorised replicates against the definition, drawn from the same generator in the same
    # order: one problem draw, then method A's seed draw, then B's.
    rng = np.random.default_rng(9)
    a = [rng.random((5, 2)) for _ in range(3)]
    b = [rng.random((5, 2)) for _ in range(2)]
    rep_a, rep_b = crossed_replicates([a, b], b=40, seed=6)
    gen = np.random.default_rng(6)
    probs = gen.integers(0, 5, size=(40, 5))
    seeds_a, seeds_b = gen.integers(0, 3, size=(40, 3)), gen.integers(0, 2, size=(40, 2))
    for r in range(40):
        for arr, seeds, rep in ((a, seeds_a, rep_a), (b, seeds_b, rep_b)):
            direct = np.mean([arr[s][i] for s in seeds[r] for i in probs[r]], axis=0)
            np.testing.assert_allclose(rep[r], direct)


def test_hierarchical_ci_of_one_method():
    # Seeds all-0 and all-1, problems alike within a seed: the replicate is the mean of 2 seed draws,
    # 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so the 95 % interval is [0, 1] and the 40 % one
    # [0.5, 0.5] (the 30th and 70th percentiles fall in the middle mass).
    seeds = [np.zeros((4, 1)), np.ones((4, 1))]
    mean, lo, hi = hierarchical_ci(seeds, b=20000, seed=3)
    assert mean[0] == 0.5 and (lo[0], hi[0]) == (0.0, 1.0)
    _, lo, hi = hierarchical_ci(seeds, b=20000, seed=3, level=0.4)
    assert (lo[0], hi[0]) == (0.5, 0.5)
    # One seed: exactly the bootstrap over problems, the same draws for the same seed.
    values = np.random.default_rng(0).random((9, 3))
    mean, lo, hi = hierarchical_ci([values], b=300, seed=7)
    blo, bhi = bootstrap_ci(values, b=300, seed=7)
    np.testing.assert_allclose(mean, values.mean(axis=0))
    np.testing.assert_array_equal(lo, blo)
    np.testing.assert_array_equal(hi, bhi)


def _record(problem: str, i: int, ok: bool) -> dict:
    return {
        "problem": problem,
        "sample": i,
        "proof": "by decide",
        "verdict": {"ok": ok, "status": "proved" if ok else "failed"},
        "entropies": [0.5, 1.0],
        "token_ids": [1, 2],
        "timing": {"sample_s": 0.1},
    }


def write_run(run_dir, correct: dict[str, list[bool]], ks=(1, 2, 4)):
    """A finished eval run written by hand: samples.jsonl and summary.csv."""
    run_dir.mkdir(parents=True)
    records = [_record(p, i, ok) for p, oks in correct.items() for i, ok in enumerate(oks)]
    write_records(run_dir / "samples.jsonl", records)
    n = len(next(iter(correct.values())))
    write_summary(run_dir, summarize(complete_problems(records, n), list(ks), {"n": n, "split": "test"}))
    return run_dir


A = {"p0": [False] * 4, "p1": [True, False, False, False], "p2": [True, True, False, False]}
B = {"p0": [True, False, False, False], "p1": [True, True, False, False], "p2": [True, True, True, False]}


def test_summary_has_ci_columns_last_around_the_estimate(tmp_path):
    df = read_summary(write_run(tmp_path / "a", A))
    assert list(df.columns[-2:]) == ["pass@k_lo", "pass@k_hi"]
    assert list(df.columns[:3]) == ["k", "pass@k", "solved"]
    assert (df["pass@k_lo"] <= df["pass@k"]).all() and (df["pass@k"] <= df["pass@k_hi"]).all()
    # pass@1 per problem: 0, 0.25, 0.5; 95 % of resamples lie strictly inside [0, 0.5]
    assert df["pass@k"].iloc[0] == pytest.approx(0.25)
    assert df["pass@k_lo"].iloc[0] == 0.0 and df["pass@k_hi"].iloc[0] == 0.5


def test_compare_gives_the_paired_difference(tmp_path):
    a, b = write_run(tmp_path / "a", A), write_run(tmp_path / "b", B)
    d = compare_runs([a], [b], b=500)
    assert d.ks == [1, 2, 4]
    # B solves one more sample of every problem: pass@1 + 0.25 on each, so the paired CI is a point
    assert d.diff[0] == pytest.approx(0.25)
    assert d.lo[0] == pytest.approx(0.25) and d.hi[0] == pytest.approx(0.25)
    # pass@2 per problem: A 0, 1/2, 5/6; B 1/2, 5/6, 1 -> differences 1/2, 1/3, 1/6
    assert d.diff[1] == pytest.approx(1 / 3)
    assert 1 / 6 - 1e-12 <= d.lo[1] < d.diff[1] < d.hi[1] <= 1 / 2 + 1e-12


def test_compare_refuses_runs_on_other_problems_or_n(tmp_path):
    a = write_run(tmp_path / "a", A)
    other = write_run(tmp_path / "o", {**{k: v for k, v in B.items() if k != "p2"}, "p9": [True] * 4})
    with pytest.raises(ValueError, match=r"differ in problems: 1 only in .*\(p2\), 1 only in .*\(p9\)"):
        compare_runs([a], [other])
    short = write_run(tmp_path / "s", {p: oks[:2] for p, oks in B.items()}, ks=(1, 2))
    with pytest.raises(ValueError, match="n=4, .* has n=2"):
        compare_runs([a], [short])


def test_cli_compare_prints_and_writes_the_table(tmp_path):
    a1, a2 = write_run(tmp_path / "a1", A), write_run(tmp_path / "a2", A)
    b1, b2 = write_run(tmp_path / "b1", B), write_run(tmp_path / "b2", B)
    out = tmp_path / "d.csv"
    res = CliRunner().invoke(
        app, ["compare", f"{a1},{a2}", f"{b1},{b2}", "-o", str(out), "--resamples", "200"]
    )
    assert res.exit_code == 0, res.output
    assert "seeds and problems" in res.output and "diff_lo" in res.output
    df = pd.read_csv(out)
    assert list(df["k"]) == [1, 2, 4]
    assert df["diff"].iloc[0] == pytest.approx(0.25)
    res = CliRunner().invoke(app, ["compare", str(a1), str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a finished `leanfd eval` run" in res.output


def test_plot_draws_a_band_per_run_with_cis(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from leanfd.eval.plots import plot_passk

    kept = []
    monkeypatch.setattr(plt, "close", kept.append)  # keep the figure to look at its artists
    a = read_summary(write_run(tmp_path / "a", A))
    b = read_summary(write_run(tmp_path / "b", B))
    plot_passk({"a": a, "b": b, "old": a.drop(columns=["pass@k_lo", "pass@k_hi"])}, tmp_path / "p.png")
    ax = kept[0].axes[0]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # the summary without CI columns gets a line only
    # the band spans the interval: its vertices reach 100 * hi at some k
    ys = np.concatenate([p.vertices[:, 1] for p in bands[1].get_paths()])
    assert ys.max() == pytest.approx(100 * b["pass@k_hi"].max())
    for fig in kept:
        fig.clf()
