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


def test_which_verdicts_carry_over_to_another_preset():
    from leanfd.lean.verify import carries_over

    lean_failure = Verdict(False, "failed", reason="")
    assert carries_over(lean_failure, Attempt(LT, "by simp"), "published")
    assert carries_over(Verdict(True, "proved", axioms=["propext"]), Attempt(LT, "by omega"), "published")
    # what a preset relaxes: refused words, trusted axioms, whose heartbeats count
    assert not carries_over(Verdict(False, "forbidden"), Attempt(POW, "by native_decide"), "published")
    assert not carries_over(Verdict(False, "axiom"), Attempt(POW, "by decide +native"), "published")
    ofreduce = Verdict(True, "proved", axioms=["Lean.ofReduceBool"], policy="published")
    assert not carries_over(ofreduce, Attempt(POW, "by decide +native"), "strict")
    assert not carries_over(lean_failure, Attempt(LT_UNLIMITED, "by omega"), "published")
    assert not carries_over(
        lean_failure, Attempt(LT, "by\n  set_option maxHeartbeats 400000 in\n  omega"), "published"
    )
    with pytest.raises(ValueError, match="unknown verify policy"):
        carries_over(lean_failure, Attempt(LT, "by simp"), "lenient")


@pytest.mark.lean
def test_verdicts_under_another_preset_run_lean_only_where_it_can_change(verifier, monkeypatch):
    from leanfd.lean.verify import verdicts_under

    attempts = [
        Attempt(LT, "by omega"),
        Attempt(LT, "by simp"),
        Attempt(POW, "by native_decide"),
        Attempt(LT_UNLIMITED, "by omega"),
    ]
    strict = verifier.verify(attempts)
    assert [v.status for v in strict][:3] == ["proved", "failed", "forbidden"]
    sent = []
    real = verifier.verify
    monkeypatch.setattr(verifier, "verify", lambda a, **kw: sent.extend(a) or real(a, **kw))
    published = verdicts_under(verifier, attempts, strict, "published")
    assert sent == attempts[2:]  # the native_decide proof and the header's own limit
    assert [v.policy for v in published] == ["published"] * 4
    assert [v.status for v in published] == ["proved", "failed", "proved", "proved"]
    assert published[1].messages == strict[1].messages  # copied, not re-run
    # and the same answer as judging everything under published
    assert [v.status for v in real(attempts, policy="published")] == [v.status for v in published]
