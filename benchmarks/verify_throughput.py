"""Verifier throughput: cold start, warm steady state, the naive baseline, and the cost of a hang.

    python benchmarks/verify_throughput.py [--n 64] [--workers N] [--naive-sample 3]

Prints: session start-up seconds, cold end-to-end seconds for N attempts (start-up included),
warm seconds for the same N, steady-state seconds per attempt and attempts/s per worker, the naive
baseline (one fresh `lean` process per attempt) on a sample, the ratio, and what one hung attempt
costs the batch. Figures depend on machine load: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from leanfd.data.problem import Attempt, Problem
from leanfd.lean import Verifier
from leanfd.lean.toolchain import install_embedded
from leanfd.lean.verify import default_workers, wrap


def make_attempts(n: int) -> list[Attempt]:
    """A mix of valid and invalid attempts over different problems (about 60% valid)."""
    out = []
    for i in range(n):
        k = i + 2
        kind = i % 5
        if kind == 0:
            out.append(
                Attempt(
                    Problem(f"a{i}", f"theorem a{i} (x : Nat) (h : {k} * x + 1 = {2 * k + 1}) : x = 2 :="),
                    "by omega",
                )
            )
        elif kind == 1:
            out.append(
                Attempt(
                    Problem(f"b{i}", f"theorem b{i} : ({k} ^ 5 + 3) % 7 = ({k} ^ 5 + 3) % 7 :="), "by decide"
                )
            )
        elif kind == 2:
            out.append(
                Attempt(
                    Problem(f"c{i}", f"theorem c{i} (a b : Nat) (h : a < b) : a + {k} < b + {k} :="),
                    "by\n  have h2 : a + 1 ≤ b := h\n  omega",
                )
            )
        elif kind == 3:  # wrong
            out.append(
                Attempt(
                    Problem(f"d{i}", f"theorem d{i} (n : Nat) : n + {k} = {k} + n :="),
                    "by\n  intro h\n  simp",
                )
            )
        else:  # sorry
            out.append(
                Attempt(Problem(f"e{i}", f"theorem e{i} (n : Nat) : n * {k} = {k} * n :="), "by sorry")
            )
    return out


def naive(attempts: list[Attempt]) -> list[float]:
    """One fresh embedded Lean process per attempt (what a verifier without sessions does)."""
    tc = install_embedded()
    times = []
    with tempfile.TemporaryDirectory(prefix="leanfd-naive-") as d:
        for i, a in enumerate(attempts):
            f = Path(d) / f"a{i}.lean"
            f.write_text(wrap(a, 200_000).source)
            t0 = time.perf_counter()
            subprocess.run(
                tc.command("--json", str(f)), env=tc.env(Path(d)), cwd=d, capture_output=True, check=False
            )
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--naive-sample", type=int, default=3)
    ap.add_argument("--hang-timeout", type=float, default=5.0)
    args = ap.parse_args()
    attempts = make_attempts(args.n)

    with Verifier("embedded", workers=args.workers, timeout_s=60) as v:
        t0 = time.perf_counter()
        startup = v.warm_up()
        vs = v.verify(attempts)
        cold = time.perf_counter() - t0
        statuses = {s: sum(x.status == s for x in vs) for s in sorted({x.status for x in vs})}
        t0 = time.perf_counter()
        v.verify(attempts)
        warm = time.perf_counter() - t0
        per_attempt = statistics.median(x.time_s for x in v.verify(attempts[: min(20, args.n)]))

        slow = Problem(
            "slow", "theorem slow : ∀ x < 300, ∀ y < 300, x * y ≠ 9999991 :="
        )  # minutes in the kernel
        batch = [attempts[0], Attempt(slow, "by decide +kernel"), *attempts[1:8]]
        t0 = time.perf_counter()
        hv = v.verify(batch, timeout_s=args.hang_timeout, heartbeats=0)
        hang_total = time.perf_counter() - t0
        assert hv[1].status == "timeout", hv[1]

    sample = attempts[: args.naive_sample]
    nt = naive(sample)
    naive_per = statistics.mean(nt)
    warm_per = warm / args.n

    print(f"workers                         {args.workers}")
    print(f"attempts                        {args.n}  ({statuses})")
    print(f"session start-up (all workers)  {startup:8.1f} s")
    print(f"cold, end to end                {cold:8.1f} s   (start-up + {args.n} attempts)")
    print(
        f"warm, {args.n} attempts             {warm:8.2f} s   ({args.n / warm:.1f} attempts/s, {args.n / warm / args.workers:.1f}/s per worker)"
    )
    print(
        f"steady state, median per attempt{per_attempt * 1000:8.0f} ms  (inside Lean, one attempt per request)"
    )
    print(f"naive (fresh process/attempt)   {naive_per:8.1f} s per attempt (sample of {len(sample)})")
    print(
        f"speed-up vs naive               {naive_per / warm_per:8.0f} x   (naive s/attempt ÷ warm wall s/attempt)"
    )
    print(
        f"batch with one hang (limit {args.hang_timeout:.0f}s)  {hang_total:8.1f} s for {len(batch)} attempts (hang = limit + one restart)"
    )


if __name__ == "__main__":
    main()
