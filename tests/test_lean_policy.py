"""Verify policies on the real Lean: what `strict` refuses and `published` accepts, and that each
verdict records the preset that judged it."""

from __future__ import annotations

import pytest

from leanfd.data.problem import Attempt, Problem
from leanfd.lean.guard import POLICIES, screen, screen_file
from leanfd.lean.types import Verdict

LT = Problem("lt", "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :=")
POW = Problem("pow", "theorem pow : 2 ^ 10 = 1024 :=")
# The header's own limit, as 1,080 of miniF2F's released proofs carry one.
LT_UNLIMITED = Problem("lt", LT.statement, header="set_option maxHeartbeats 0")
#: A limit `omega` needs more than (in thousands of heartbeats), so the test takes no time.
TINY = 1


def test_presets_share_one_rule_table_and_differ_only_where_they_say():
    assert set(POLICIES) == {"strict", "published"}
    assert "native_decide" in screen("by native_decide")
    assert screen("by native_decide", preset="published") is None
    # what published trusts is only native_decide: the rest of the table still applies
    assert "ofReduceBool" in screen("by exact Lean.ofReduceBool _ _ rfl", preset="published")
    assert "axiom" in screen("by\n  axiom x : False", preset="published")
    assert "no limit" in screen("by\n  set_option maxHeartbeats 0 in\n  omega")
    assert screen("by\n  set_option maxHeartbeats 0 in\n  omega", preset="published") is None
    f = "set_option maxHeartbeats 0 in\ntheorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b := by omega\n"
    assert "no limit" in screen_file(f, ("Init",))
    assert screen_file(f, ("Init",), preset="published") is None
    with pytest.raises(ValueError, match="unknown verify policy 'lenient'; use one of strict, published"):
        screen("rfl", preset="lenient")


def test_verdict_records_its_policy_on_the_wire():
    v = Verdict(True, "proved", policy="published")
    assert Verdict.from_dict(v.to_dict()).policy == "published"
    old = v.to_dict()
    del old["policy"]
    assert Verdict.from_dict(old).policy == "strict"  # verdicts stored before presets


@pytest.mark.lean
def test_native_decide_strict_forbids_published_trusts_the_compiler(verifier):
    a = Attempt(POW, "by native_decide")
    strict, published = verifier.verify([a])[0], verifier.verify([a], policy="published")[0]
    assert (strict.status, strict.policy) == ("forbidden", "strict")
    assert "native_decide" in strict.reason
    assert (published.status, published.policy) == ("proved", "published"), published
    assert "Lean.ofReduceBool" in published.axioms
    assert "trusting the compiler (Lean.ofReduceBool" in published.reason


@pytest.mark.lean
def test_unlimited_heartbeats_honoured_only_by_published(verifier):
    header = [Attempt(LT_UNLIMITED, "by omega")]
    file = "set_option maxHeartbeats 0 in\ntheorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b := by omega\n"
    files = [Attempt(LT_UNLIMITED, file=file)]  # the header also lifts the reference statement's limit
    # over the verifier's limit, strict times out whatever the header says
    assert verifier.verify(header, heartbeats=TINY)[0].status == "timeout"
    assert verifier.verify(files, heartbeats=TINY)[0].status == "forbidden"  # 0 is refused under strict
    for attempts in (header, files):
        v = verifier.verify(attempts, heartbeats=TINY, policy="published")[0]
        assert (v.status, v.policy) == ("proved", "published"), v
    # published still holds a proof to the verifier's limit when nothing lifts it
    v = verifier.verify([Attempt(LT, "by omega")], heartbeats=TINY, policy="published")[0]
    assert v.status == "timeout"
