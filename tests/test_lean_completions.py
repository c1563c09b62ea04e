"""Extract + verify (``leanfd.lean.completions``), the Lean half of the sample -> verify pipeline
shared by eval, train and the environment, with a recording stand-in for the verifier (no Lean)."""

from __future__ import annotations

import pytest

from leanfd.data.problem import Problem
from leanfd.lean.completions import NO_PROOF, NO_PROOF_REASON, check_completions
from leanfd.lean.types import Verdict

P = Problem("two", "theorem two : 2 + 2 = 4 :=")
Q = Problem("comm", "theorem comm (a b : Nat) : a + b = b + a :=")


def test_only_completions_with_a_proof_reach_the_verifier_in_one_call_and_order_is_kept():
    calls = []

    def verify(attempts):
        calls.append([(a.problem.name, a.proof) for a in attempts])
        return [
            Verdict(a.proof == "by decide", "proved" if a.proof == "by decide" else "failed")
            for a in attempts
        ]

    items = [
        (P, "```lean4\ntheorem two : 2 + 2 = 4 := by decide\n```"),
        (Q, "I cannot prove this."),
        (Q, "```lean4\ntheorem comm (a b : Nat) : a + b = b + a := by simp\n```"),
    ]
    out = check_completions(items, verify)
    assert calls == [[("two", "by decide"), ("comm", "by simp")]]  # one batch, no proofless row
    assert [c.proof for c in out] == ["by decide", None, "by simp"]
    assert [c.verdict.status for c in out] == ["proved", "failed", "failed"]
    assert out[1].verdict == NO_PROOF and out[1].verdict.reason == NO_PROOF_REASON
    assert out[1].verdict is not NO_PROOF  # a copy: a caller may change its verdict safely


def test_no_proof_at_all_never_calls_the_verifier():
    def verify(attempts):
        raise AssertionError("nothing to verify")

    (c,) = check_completions([(P, "no code here")], verify)
    assert c.proof is None and not c.verdict.ok


def test_a_verifier_that_loses_verdicts_is_an_error():
    with pytest.raises(RuntimeError, match="returned 0 verdicts for 1 attempts"):
        check_completions([(P, "```lean4\ntheorem two : 2 + 2 = 4 := by rfl\n```")], lambda attempts: [])
