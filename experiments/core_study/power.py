"""Power of the core study, computed before any of its runs: the smallest difference in pass@1 and
pass@16 between two methods that P test problems x n samples x S seeds per method can detect
(two-sided, alpha 0.05, power 0.8), from the first study's per-problem eval data.

    .venv/bin/python experiments/core_study/power.py     # ~1 min on 2 cores; writes power.json

Method (normal approximation, its variance simulated from the observed per-problem rates):
the test is the hierarchical bootstrap CI of `leanfd compare` excluding 0, which for a mean over
49 problems x 3 seeds is close to a z-test, so the minimum detectable difference (MDE) is
(z_{0.975} + z_{0.8}) x SE, SE being the standard deviation of the estimated difference under no
effect. SE is simulated, not written in closed form, because it mixes three sources: which problems
(drawn with replacement from the first study's 16 held-out problems), the training seed, and the n
samples. The first study had one seed, so seed-to-seed variation is bracketed:
- ``sampling``: every seed of every method has the problem's pooled rate (mean over the four evals
  of the first study); only the n samples vary. A lower bound on SE.
- ``seed_spread``: each (method, seed) draws the problem's rate from one of the four evals (base,
  FD, GRPO, FD->GRPO after training), as if the spread between those models were seed noise. It
  includes real method effects and the first study's n=4 noise, so it is an upper bound.
The script then checks the approximation with the bootstrap test itself: the rejection rate with
no effect (should be near 0.05) and with B's per-problem rates raised by the pass@1 MDE (near 0.8).
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import NormalDist

import numpy as np

from leanfd.eval.bootstrap import hierarchical_difference
from leanfd.eval.metrics import pass_at_k

HERE = Path(__file__).resolve().parent
FIRST = HERE.parent / "cpu_smollm2" / "results"
EVALS = {
    "base": FIRST / "fd" / "eval_before_samples.jsonl",  # the three runs' "before" evals are one eval
    "fd": FIRST / "fd" / "eval_after_samples.jsonl",
    "grpo": FIRST / "grpo" / "eval_after_samples.jsonl",
    "fd-grpo": FIRST / "fd-grpo" / "eval_after_samples.jsonl",
}
PROBLEMS = (49, 100)  # the test split; test + valid (valid would need training moved to a generated set)
NS = (16, 32, 64)
SEEDS = (3, 5)  # 3 is the design; 5 shows what more seeds would buy
KS = (1, 16)
ALPHA, POWER = 0.05, 0.8
SIMS = 20000
CHECK_SIMS, CHECK_B = 200, 1000
SHIFTS = (1.0, 1.25, 1.5, 2.0)  # multiples of the normal-approximation pass@1 MDE tried with the bootstrap


def observed_rates() -> tuple[list[str], np.ndarray, int]:
    """Problem names, ``rates[eval, problem]`` (fraction of samples proved) and the first study's n."""
    counts: dict[str, dict[str, list[bool]]] = {}
    for name, path in EVALS.items():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            counts.setdefault(name, {}).setdefault(r["problem"], []).append(bool(r["verdict"]["ok"]))
    problems = sorted(counts["base"])
    n0 = {len(v) for c in counts.values() for v in c.values()}
    assert len(n0) == 1 and all(sorted(c) == problems for c in counts.values()), "evals differ in design"
    rates = np.array([[np.mean(counts[e][p]) for p in problems] for e in EVALS])
    return problems, rates, n0.pop()


def simulate(rates: np.ndarray, p: int, n: int, seeds: int, mode: str, rng, sims: int, shift: float = 0.0):
    """Per-problem pass@k of both methods in ``sims`` simulated studies: arrays [sims, S, P, K].

    Problems are drawn from the observed ones (the same draw for both methods: they are evaluated on
    the same problems); each (method, seed) has a per-problem rate as ``mode`` says; c ~ Binomial(n,
    rate); B's rates are raised by ``shift`` (clipped to 1).
    """
    table = np.stack([pass_at_k(n, np.arange(n + 1), k) for k in KS], axis=1)  # [c, K]
    prob = rng.integers(0, rates.shape[1], size=(sims, 1, p))
    out = []
    for add in (0.0, shift):
        if mode == "sampling":
            r = np.broadcast_to(rates.mean(axis=0)[prob], (sims, seeds, p))
        else:
            r = rates[rng.integers(0, rates.shape[0], size=(sims, seeds, p)), prob]
        c = rng.binomial(n, np.clip(r + add, 0.0, 1.0))
        out.append(table[c])
    return out


def main() -> None:
    problems, rates, n0 = observed_rates()
    z = NormalDist().inv_cdf(1 - ALPHA / 2) + NormalDist().inv_cdf(POWER)
    rng = np.random.default_rng(17)
    pooled = rates.mean(axis=0)
    result: dict = {
        "first_study": {
            "problems": len(problems),
            "n": n0,
            "evals": list(EVALS),
            "pass@1": {e: float(rates[i].mean()) for i, e in enumerate(EVALS)},
            "problems_never_proved": int((rates.max(axis=0) == 0).sum()),
            "pooled_rate_per_problem": sorted(float(x) for x in pooled),
        },
        "design": {"seeds": 3, "alpha": ALPHA, "power": POWER, "z_sum": float(z), "sims": SIMS},
        "mde": [],
    }
    grid = [(m, 3, p, n) for m in ("sampling", "seed_spread") for p in PROBLEMS for n in NS]
    grid += [("seed_spread", 5, p, 16) for p in PROBLEMS]
    for mode, seeds, p, n in grid:
        a, b = simulate(rates, p, n, seeds, mode, rng, SIMS)
        d = b.mean(axis=(1, 2)) - a.mean(axis=(1, 2))  # [sims, K]
        se = d.std(axis=0)
        result["mde"].append(
            {
                "mode": mode,
                "seeds": seeds,
                "problems": p,
                "n": n,
                **{f"se_pass@{k}": float(se[j]) for j, k in enumerate(KS)},
                **{f"mde_pass@{k}": float(z * se[j]) for j, k in enumerate(KS)},
                **{f"mean_pass@{k}": float(a[..., j].mean()) for j, k in enumerate(KS)},
            }
        )
    # The approximation against the real test (the hierarchical bootstrap CI excluding 0) for the
    # planned design: its rejection rate with no effect, then with B's rates raised by multiples of
    # the pass@1 MDE, until it reaches the target power. A uniform rate shift is an effect on pass@1;
    # it lifts every unsolved problem too, so it says nothing about pass@16 and is not used for it.
    checks = []
    for mode in ("sampling", "seed_spread"):
        row = next(
            r for r in result["mde"] if (r["mode"], r["seeds"], r["problems"], r["n"]) == (mode, 3, 49, 16)
        )
        for mult in (0.0, *SHIFTS):
            shift = mult * row["mde_pass@1"]
            a, b = simulate(rates, 49, 16, 3, mode, rng, CHECK_SIMS, shift=shift)
            reject = 0
            for s in range(CHECK_SIMS):
                diff = hierarchical_difference(list(a[s]), list(b[s]), KS, b=CHECK_B, seed=s)
                reject += bool(diff.lo[0] > 0 or diff.hi[0] < 0)
            d = float((b[..., 0].mean(axis=(1, 2)) - a[..., 0].mean(axis=(1, 2))).mean())
            checks.append(
                {"mode": mode, "seeds": 3, "problems": 49, "n": 16, "mde_multiple": mult, "rate_shift": shift}
                | {"true_diff_pass@1": d, "reject_pass@1": reject / CHECK_SIMS}
            )
            if mult and reject / CHECK_SIMS >= POWER:
                break
    result["bootstrap_check"] = {"sims": CHECK_SIMS, "resamples": CHECK_B, "rows": checks}
    out = HERE / "power.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"first study: {len(problems)} problems x n={n0}; pass@1 per eval", result["first_study"]["pass@1"])
    print(f"{'mode':12} {'seeds':>5} {'P':>4} {'n':>3} {'MDE pass@1':>11} {'MDE pass@16':>12}  (points)")
    for r in result["mde"]:
        print(
            f"{r['mode']:12} {r['seeds']:>5} {r['problems']:>4} {r['n']:>3} {100 * r['mde_pass@1']:>11.1f} "
            f"{100 * r['mde_pass@16']:>12.1f}"
        )
    for c in checks:
        print(
            f"bootstrap test, {c['mode']}, S=3 P=49 n=16, B - A pass@1 {100 * c['true_diff_pass@1']:.1f} points "
            f"({c['mde_multiple']} x MDE): rejects {c['reject_pass@1']:.2f}"
        )
    print(f"wrote {out.name}")


if __name__ == "__main__":
    main()
