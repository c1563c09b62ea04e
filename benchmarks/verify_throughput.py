"""Verifier throughput: cold start, warm steady state, the naive baseline, and the cost of a hang.

    python benchmarks/verify_throughput.py [--n 64] [--workers N] [--naive-sample 3]

Prints: session start-up seconds, cold end-to-end seconds for N attempts (start-up included),
warm seconds for the same N, steady-state seconds per attempt and attempts/s per worker, the same
proofs as whole files next to them as proof rows (first and later sight of each problem, and with a
helper lemma; the target: files within 1.3x), the naive baseline (one fresh `lean`
process per attempt) on a sample, the ratio, and what one hung attempt costs the batch. Figures
depend on machine load: run it on an otherwise idle machine.
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


def as_files(attempts: list[Attempt], helper: bool = False) -> list[Attempt]:
    """The same proofs as whole files: the statement and its proof, or (``helper``) the proof in a
    helper lemma that the theorem then applies, the shape real provers emit (two declarations for
    Lean to check instead of one)."""
    out = []
    for a in attempts:
        statement = a.problem.statement
        if helper:
            lemma = statement.replace(f"theorem {a.problem.name}", "theorem helper", 1)
            text = f"{lemma}\n{a.proof}\n\n{statement} by\n  apply helper <;> assumption\n"
        else:
            text = f"{statement}\n{a.proof}\n"
        out.append(Attempt(a.problem, file=text))
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

        # Files vs the same proofs as proof rows: passes alternate (proofs, files) so both see the
        # same load, three times each, and the medians are of every attempt's time inside Lean.
        # The first file pass meets each problem for the first time, so the session elaborates its
        # reference statement; later passes meet it again (as eval's n samples per problem do) and
        # find it kept. The helper-shaped files give Lean two declarations instead of one.
        file_rows = []
        for label, files in (
            ("first sight", as_files(attempts)),
            ("seen before", as_files(attempts)),
            ("with a helper", as_files(attempts, helper=True)),
        ):
            walls, times = [0.0, 0.0], [[], []]
            for _ in range(1 if label == "first sight" else 3):
                for k, batch in enumerate((attempts, files)):
                    t0 = time.perf_counter()
                    got = v.verify(batch)
                    walls[k] += time.perf_counter() - t0
                    times[k] += [x.time_s for x in got]
                    assert [x.status for x in got] == [x.status for x in vs], [
                        (x.status, x.reason) for x in got
                    ]
            n = len(times[0])
            file_rows.append(
                (label, walls[1] / n, walls[0] / n, statistics.median(times[1]), statistics.median(times[0]))
            )

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
    for label, f_wall, p_wall, f_med, p_med in file_rows:
        print(
            f"files vs proofs, {label:<13} median {f_med * 1000:4.0f} vs {p_med * 1000:.0f} ms per attempt "
            f"({f_med / p_med:.2f}x); wall {1000 * f_wall:.0f} vs {1000 * p_wall:.0f} ms ({f_wall / p_wall:.2f}x)"
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
