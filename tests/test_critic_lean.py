"""The rule-based critic on real failures from the embedded Lean (one batch for the module)."""

from __future__ import annotations

import json

import pytest

from leanfd.critic.align import VerifierGoals
from leanfd.critic.conditions import CONDITIONS, render_feedback
from leanfd.critic.rule import Critique, step_aligned_critique
from leanfd.data.problem import Attempt, Problem

pytestmark = pytest.mark.lean

P_ADD = "theorem c_add (n : Nat) : n + 0 = n :="
P_LT = "theorem c_lt (a b : Nat) (h : a ≤ b) : a < b + 1 :="
P_SQ = "theorem c_sq (a b : Nat) (h : a ≤ b) : a * a ≤ b * b :="
P_AND = "theorem c_and (p q : Prop) (hp : p) (hq : q) : p ∧ q :="

CASES = {
    "step1": (P_ADD, "by\n  intro m\n  omega"),
    "step2": (P_LT, "by\n  have h2 : a ≤ b := h\n  exact Nat.lt_succ_of_le_foo h2\n  omega"),
    "last": (P_SQ, "by\n  have h2 : a ≤ b := h\n  have h3 : 0 ≤ a := Nat.zero_le a\n  omega"),
    "unsolved": (P_AND, "by\n  constructor\n  · exact hp"),
    "nested_unsolved": (P_LT, "by\n  have h2 : a ≤ b ∧ True := by\n    constructor\n    exact h\n  omega"),
    "sorry": ("theorem c_sorry (n : Nat) : n + 0 = n ∧ True :=", "by\n  constructor\n  · sorry\n  · trivial"),
    "forbidden": ("theorem c_nd : 2 + 2 = 4 :=", "by\n  show 2 + 2 = 4\n  native_decide"),
    "mathlib": ("theorem c_ml (n : Nat) : n + 1 > n :=", "by\n  linarith"),
    "term": ("theorem c_term (n : Nat) : n - n = 1 :=", "Nat.sub_self n"),
    "focus_recovers": (P_AND, "by\n  constructor\n  · exact hq\n  · exact hq"),
    "proved": (P_LT, "by\n  have h2 : a ≤ b := h\n  omega"),
}
TIMEOUT_CASE = (
    "theorem c_hb : (List.range 300).foldl (· + ·) 0 = 44850 :=",
    "by\n  show (List.range 300).foldl (· + ·) 0 = 44850\n  decide",
)


@pytest.fixture(scope="module")
def judged(verifier):
    """(problem, proof, verdict) per case, all from one verify call (plus one with a tiny heartbeat budget)."""
    names = list(CASES)
    attempts = [Attempt(Problem(n, CASES[n][0]), CASES[n][1]) for n in names]
    verdicts = verifier.verify(attempts)
    out = {n: (a.problem, a.proof, v) for n, a, v in zip(names, attempts, verdicts, strict=True)}
    hb = Attempt(Problem("timeout", TIMEOUT_CASE[0]), TIMEOUT_CASE[1])
    out["timeout"] = (hb.problem, hb.proof, verifier.verify([hb], heartbeats=300)[0])
    return out


def crit(judged, name) -> Critique:
    p, proof, v = judged[name]
    return step_aligned_critique(p, proof, v)


def test_fails_at_step_1(judged):
    c = crit(judged, "step1")
    assert c.status == "failed" and c.first_failing == 0
    assert c.prefix == "by\n  "
    assert [s.verdict for s in c.steps] == ["failed", "not reached"]
    assert c.category == "intro_failed" and c.located_by == "lean"
    assert c.goal == "n : Nat\n⊢ n + 0 = n"


def test_fails_at_step_2_with_wrong_lemma_name(judged):
    p, proof, _ = judged["step2"]
    c = crit(judged, "step2")
    assert c.first_failing == 1 and c.steps[1].text == "exact Nat.lt_succ_of_le_foo h2"
    assert c.prefix == "by\n  have h2 : a ≤ b := h\n  " and proof.startswith(c.prefix)
    assert c.category == "unknown_identifier" and "`Nat.lt_succ_of_le_foo`" in c.diagnosis
    # an unknown name is elaborated as sorry and Lean goes on: omega ran (no goals left for it)
    assert [s.verdict for s in c.steps][:2] == ["ok", "failed"]


def test_fails_at_last_step_arithmetic_out_of_reach(judged):
    c = crit(judged, "last")
    assert c.first_failing == 2 and c.steps[2].text == "omega"
    assert [s.verdict for s in c.steps] == ["ok", "ok", "failed"]
    assert c.category == "omega_failed" and "products of variables" in c.diagnosis
    assert "a * " in c.details["facts"] or "↑a * ↑a" in c.details["facts"]
    assert "induction" in c.suggestion and "cases" in c.suggestion


def test_goal_source_supplies_the_goal_before_the_failing_step(judged, verifier):
    p, proof, v = judged["last"]
    c = step_aligned_critique(p, proof, v, goal_source=VerifierGoals(verifier))
    assert c.goal is not None and c.goal.endswith("⊢ a * a ≤ b * b") and "h3 : 0 ≤ a" in c.goal
    assert c.steps[0].goal.endswith("⊢ a * a ≤ b * b")


def test_unsolved_goals_map_to_last_step(judged):
    c = crit(judged, "unsolved")
    assert c.first_failing == 1 and c.steps[1].kind == "focus"
    assert c.category == "unsolved_goals"
    assert c.goal.endswith("⊢ q") and "case right" in c.goal
    assert "exact hq" in c.suggestion


def test_unsolved_goals_in_nested_have(judged):
    c = crit(judged, "nested_unsolved")
    assert c.steps[c.first_failing].text == "exact h" and c.steps[c.first_failing].depth == 1
    assert c.goal.endswith("⊢ True") and "`trivial`" in c.suggestion
    # the have is admitted and the outer sequence goes on
    assert c.steps[-1].text == "omega" and c.steps[-1].verdict == "ok"


def test_sorry_is_located_by_token(judged):
    c = crit(judged, "sorry")
    assert c.status == "sorry" and c.located_by == "token"
    assert c.steps[c.first_failing].text == "sorry" and c.category == "sorry"
    assert c.prefix == "by\n  constructor\n  · "


def test_forbidden_names_the_step(judged):
    c = crit(judged, "forbidden")
    assert c.status == "forbidden" and c.located_by == "token"
    assert c.steps[c.first_failing].text == "native_decide"
    assert [s.verdict for s in c.steps] == ["ok", "failed"]
    assert "`decide`" in c.suggestion


def test_timeout_on_heartbeats_names_the_step(judged):
    c = crit(judged, "timeout")
    assert c.status == "timeout" and c.located_by == "lean"
    assert c.steps[c.first_failing].text == "decide" and c.category == "timeout"


def test_mathlib_tactic_is_a_syntax_failure_with_goal(judged):
    c = crit(judged, "mathlib")
    assert c.first_failing == 0 and c.category == "unknown_tactic"
    assert "Mathlib" in c.diagnosis and "omega" in c.suggestion
    assert c.goal == "n : Nat\n⊢ n + 1 > n"


def test_term_proof_type_mismatch(judged):
    c = crit(judged, "term")
    assert c.first_failing == 0 and c.steps[0].kind == "term" and c.prefix == ""
    assert c.category == "type_mismatch"
    assert c.details == {"expected": "n - n = 1", "actual": "n - n = 0"}


def test_focus_blocks_report_each_error(judged):
    c = crit(judged, "focus_recovers")
    assert [s.verdict for s in c.steps] == ["ok", "failed", "failed", "ok", "ok"]
    assert c.first_failing == 2 and c.category == "type_mismatch"


def test_proved(judged):
    p, proof, _ = judged["proved"]
    c = crit(judged, "proved")
    assert c.status == "proved" and c.first_failing is None and c.prefix == proof
    assert all(s.verdict == "ok" for s in c.steps)


def test_critique_round_trips_through_json(judged):
    for name in judged:
        c = crit(judged, name)
        again = Critique.from_dict(json.loads(json.dumps(c.to_dict())))
        assert again == c


def test_every_condition_renders(judged):
    for name, (p, proof, v) in judged.items():
        p = Problem(p.name, p.statement, reference_proof="by\n  omega")
        c = step_aligned_critique(p, proof, v)
        for cond in CONDITIONS:
            text = render_feedback(cond, p, proof, v, c)
            assert text.strip(), (name, cond)
        crit_text = render_feedback("critique", p, proof, v, c)
        if c.first_failing is not None and c.prefix.strip() not in ("", "by"):
            assert c.prefix.rstrip() in crit_text  # the correct prefix, verbatim
        if v.ok:
            assert "accepted" in crit_text
    p, proof, v = judged["last"]
    errs = render_feedback("errors", p, proof, v)
    assert "error at 4:2: omega could not prove the goal" in errs and "  4 |   omega" in errs
    with pytest.raises(ValueError, match="no reference_proof"):
        render_feedback("reference", p, proof, v)
    with pytest.raises(ValueError, match="unknown feedback condition"):
        render_feedback("nope", p, proof, v)
