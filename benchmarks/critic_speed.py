"""How fast is the rule-based critic? Verifies a few failing attempts once with the embedded Lean,
then times splitting + alignment + critique + rendering every feedback condition.

Run: python benchmarks/critic_speed.py
"""

from __future__ import annotations

import time

from leanfd.critic.conditions import CONDITIONS
from leanfd.critic.rule import step_aligned_critique
from leanfd.data.problem import Attempt, Problem
from leanfd.lean import Verifier

CASES = [
    ("theorem b1 (n : Nat) : n + 0 = n :=", "by\n  intro m\n  omega"),
    ("theorem b2 (a b : Nat) (h : a ≤ b) : a * a ≤ b * b :=", "by\n  have h2 : a ≤ b := h\n  omega"),
    ("theorem b3 (p q : Prop) (hp : p) (hq : q) : p ∧ q :=", "by\n  constructor\n  · exact hp"),
    (
        "theorem b4 (a b : Nat) : a + b = b + a :=",
        "by\n  induction a with\n  | zero => simp\n  | succ k ih =>\n    rw [Nat.succ_add]\n    exact foo",
    ),
]


def main() -> None:
    attempts = [Attempt(Problem(f"b{i}", s), p) for i, (s, p) in enumerate(CASES)]
    with Verifier(workers=1) as v:
        t0 = time.perf_counter()
        v.warm_up()
        print(f"verifier warm-up: {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        verdicts = v.verify(attempts)
        print(
            f"verify {len(attempts)} attempts: {(time.perf_counter() - t0) / len(attempts) * 1000:.0f} ms each"
        )
        t0 = time.perf_counter()
        with_goals = v.verify(attempts, goals=True)
        print(f"verify with goals: {(time.perf_counter() - t0) / len(attempts) * 1000:.0f} ms each")
    reps = 200
    for label, vs in (("messages only", verdicts), ("with goals", with_goals)):
        t0 = time.perf_counter()
        for _ in range(reps):
            for a, vd in zip(attempts, vs, strict=True):
                c = step_aligned_critique(a.problem, a.proof, vd)
                for fn in CONDITIONS.values():
                    if fn.__name__.startswith(("reference", "critique_reference")):
                        continue
                    fn(a.problem, a.proof, vd, c)
        dt = (time.perf_counter() - t0) / (reps * len(attempts))
        print(f"rule critique + 3 conditions ({label}): {dt * 1000:.2f} ms per attempt")


if __name__ == "__main__":
    main()
