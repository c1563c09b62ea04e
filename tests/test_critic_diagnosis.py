"""One real Lean message per diagnosis category: the rule-based critic names the category and the
fix, without Lean.

Every message below was produced by the embedded Lean (Lean 4.28.0-pre, the package's default
backend) through ``leanfd.lean.verify_batch`` on the statement and proof of its row, and is pasted
verbatim with its position (line, col, end_line, end_col, relative to the proof). A Lean upgrade
that rewords a message shows up here as a wrong category.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from leanfd.critic.rule import CATEGORIES, step_aligned_critique
from leanfd.data.problem import Problem
from leanfd.lean.types import LeanMessage, Verdict


@dataclass(frozen=True)
class Row:
    category: str
    statement: str
    proof: str
    messages: tuple[tuple[int, int, int, int, str], ...]  # errors: (line, col, end_line, end_col, text)
    fix: str | None  # a part of the suggestion that must be there; None: no suggestion
    status: str = "failed"
    step: int = 0  # the step blamed (0-based)


LT = "theorem c_lt (a b : Nat) (h : a ≤ b) : a < b + 1 :="
AND = "theorem c_and (p q : Prop) (hp : p) (hq : q) : p ∧ q :="

ROWS = (
    # a lemma name that does not exist
    Row(
        "unknown_identifier",
        LT,
        "by\n  exact Nat.lt_succ_of_le_foo h",
        ((2, 8, 2, 29, "Unknown constant `Nat.lt_succ_of_le_foo`"),),
        "check the exact name and namespace",
    ),
    # a misspelt hypothesis (a short name is taken for one, not for a lemma)
    Row(
        "unknown_identifier",
        LT,
        "by\n  exact Nat.lt_succ_of_le hx",
        ((2, 26, 2, 28, "Unknown identifier `hx`"),),
        "name an existing hypothesis",
    ),
    # a Mathlib tactic in core Lean (tests/test_critic_lean.py, case mathlib)
    Row(
        "unknown_tactic",
        "theorem c_ml (n : Nat) : n + 1 > n :=",
        "by\n  linarith",
        (
            (2, 3, 2, 3, "unknown tactic"),
            (1, 0, 2, 10, "unsolved goals\nn : Nat\n⊢ n + 1 > n"),
        ),
        "use core tactics: `omega`",
    ),
    # an unclosed bracket: Lean's parser reports the end of input
    Row(
        "syntax",
        LT,
        "by\n  exact (Nat.lt_succ_of_le h",
        (
            (3, 0, 3, 0, "unexpected end of input; expected ')', ',' or ':'"),
            (2, 9, 2, 26, "invalid binder name `Nat.lt_succ_of_le`, it must be atomic"),
        ),
        "balance brackets",
    ),
    # a stray token after the last tactic
    Row(
        "syntax",
        LT,
        "by\n  omega)",
        ((2, 7, 2, 8, "unexpected token ')'; expected command"),),
        "remove the trailing text",
    ),
    # a term proof of the wrong type (tests/test_critic_lean.py, case term)
    Row(
        "type_mismatch",
        "theorem c_term (n : Nat) : n - n = 1 :=",
        "Nat.sub_self n",
        (
            (
                1,
                0,
                1,
                14,
                "Type mismatch\n  Nat.sub_self n\nhas type\n  n - n = 0\nbut is expected to have type\n  n - n = 1",
            ),
        ),
        "prove `n - n = 1` directly",
    ),
    # `exact` with a hypothesis of another type
    Row(
        "type_mismatch",
        "theorem c_o (p q : Prop) (hp : p) : q :=",
        "by\n  exact hp",
        ((2, 2, 2, 10, "Type mismatch\n  hp\nhas type\n  p\nbut is expected to have type\n  q"),),
        "find a term of type `q`",
    ),
    # a hypothesis applied to an argument
    Row(
        "function_expected",
        LT,
        "by\n  exact h 1",
        (
            (
                2,
                8,
                2,
                11,
                "Function expected at\n  h\nbut this term has type\n  a ≤ b\n\nNote: Expected a function because this term is being applied to the argument\n  1",
            ),
        ),
        "check the brackets and separators",
    ),
    # `simp` on a goal it cannot simplify
    Row(
        "no_progress",
        "theorem c_p (p : Prop) (hp : p) : p :=",
        "by\n  simp",
        ((2, 2, 2, 6, "`simp` made no progress"),),
        "give it the lemmas it needs (`simp [foo]`",
    ),
    # a rewrite whose left-hand side is not in the goal
    Row(
        "rewrite_failed",
        "theorem c_r (a b : Nat) : a + b = b + a :=",
        "by\n  rw [Nat.mul_comm]",
        (
            (
                2,
                6,
                2,
                18,
                "Tactic `rewrite` failed: Did not find an occurrence of the pattern\n  ?n * ?m\nin the target expression\n  a + b = b + a\n\na b : Nat\n⊢ a + b = b + a",
            ),
        ),
        "use `←` to rewrite right to left",
    ),
    # nonlinear arithmetic (the failing step of leanfd/critic/README.md's example)
    Row(
        "omega_failed",
        "theorem c_sq (a b : Nat) (h : a ≤ b) : a * a ≤ b * b :=",
        "by\n  omega",
        (
            (
                2,
                2,
                2,
                7,
                "omega could not prove the goal:\na possible counterexample may satisfy the constraints\n  f ≥ 0\n  e ≥ 0\n  e - f ≥ 1\n  d ≥ 0\n  c ≥ 0\n  c - d ≥ 0\nwhere\n c := ↑b\n d := ↑a\n e := ↑a * ↑a\n f := ↑b * ↑b",
            ),
        ),
        "`have := Nat.mul_le_mul h h`",
    ),
    # `decide` on a false closed proposition
    Row(
        "goal_false",
        "theorem c_f : 2 + 2 = 5 :=",
        "by\n  decide",
        ((2, 2, 2, 8, "Tactic `decide` proved that the proposition\n  2 + 2 = 5\nis false"),),
        "check the statement",
    ),
    # `decide` on a proposition whose instance Lean cannot evaluate (Float is opaque)
    Row(
        "decide_failed",
        "theorem c_fl : (1.0 : Float) < 2.0 :=",
        "by\n  decide",
        (
            (
                2,
                2,
                2,
                8,
                "Tactic `decide` failed for proposition\n  1.0 < 2.0\nbecause its `Decidable` instance\n  Float.decLt 1.0 2.0\ndid not reduce to `isTrue` or `isFalse`.\n\nReduction got stuck at the `Decidable` instance\n  Float.decLt 1.0 2.0",
            ),
        ),
        "reduce the problem by cases before `decide`",
    ),
    # `decide` on a large computation: Lean's recursion limit
    Row(
        "timeout",
        "theorem c_b : (List.range 300).foldl (· + ·) 0 = 44850 :=",
        "by\n  decide",
        (
            (
                2,
                2,
                2,
                8,
                "maximum recursion depth has been reached\nuse `set_option maxRecDepth <num>` to increase limit\nuse `set_option diagnostics true` to get diagnostic information",
            ),
        ),
        "`omega` instead of `decide` on large numbers",
        status="timeout",
    ),
    # the same with a budget of 300 heartbeats (tests/test_critic_lean.py, TIMEOUT_CASE)
    Row(
        "timeout",
        "theorem c_hb : (List.range 300).foldl (· + ·) 0 = 44850 :=",
        "by\n  show (List.range 300).foldl (· + ·) 0 = 44850\n  decide",
        (
            (
                3,
                2,
                3,
                8,
                "(deterministic) timeout at `whnf`, maximum number of heartbeats (300) has been reached\n\nNote: Use `set_option maxHeartbeats <num>` to set the limit.\n\nHint: Additional diagnostic information may be available using the `set_option diagnostics true` command.",
            ),
        ),
        "cheaper argument",
        status="timeout",
        step=1,
    ),
    # the second goal of `constructor` left open (tests/test_critic_lean.py, case unsolved)
    Row(
        "unsolved_goals",
        AND,
        "by\n  constructor\n  · exact hp",
        ((1, 0, 3, 12, "unsolved goals\ncase right\np q : Prop\nhp : p\nhq : q\n⊢ q"),),
        "add a step that closes it, e.g. `exact hq`",
        step=1,
    ),
    # a tactic after the proof is complete
    Row(
        "no_goals",
        LT,
        "by\n  omega\n  omega",
        ((3, 2, 3, 7, "No goals to be solved"),),
        "delete step 2",
        step=1,
    ),
    # `intro` with nothing to introduce (tests/test_critic_lean.py, case step1)
    Row(
        "intro_failed",
        "theorem c_add (n : Nat) : n + 0 = n :=",
        "by\n  intro m\n  omega",
        (
            (
                2,
                8,
                2,
                9,
                "Tactic `introN` failed: There are no additional binders or `let` bindings in the goal to introduce\n\nn : Nat\n⊢ n + 0 = n",
            ),
        ),
        "drop the `intro`",
    ),
    # a case name that no goal carries
    Row(
        "case_tag",
        AND,
        "by\n  constructor\n  case foo => exact hp\n  case right => exact hq",
        (
            (
                3,
                2,
                3,
                22,
                "Case tag `foo` not found.\n\nHint: Available tags:\n  • `left`: f̵o̵o̵l̲e̲f̲t̲\n  • `right`: f̵o̵o̵r̲i̲g̲h̲t̲",
            ),
        ),
        "use one of the goal's tags: `left`, `right`",
        step=1,
    ),
    # `rfl` on sides equal only by a lemma
    Row(
        "rfl_failed",
        "theorem c_c (a b : Nat) : a + b = b + a :=",
        "by\n  rfl",
        (
            (
                2,
                2,
                2,
                5,
                "Tactic `rfl` failed: The left-hand side\n  a + b\nis not definitionally equal to the right-hand side\n  b + a\n\na b : Nat\n⊢ a + b = b + a",
            ),
        ),
        "use `omega` or `simp`",
    ),
    # a numeral where a `Prop` is expected
    Row(
        "instance_missing",
        "theorem c_i (n : Nat) : n = n :=",
        "by\n  have h : (1 : Prop) := trivial\n  rfl",
        (
            (
                2,
                12,
                2,
                13,
                "failed to synthesize instance of type class\n  OfNat Prop 1\nnumerals are polymorphic in Lean, but the numeral `1` cannot be used in a context where the expected type is\n  Prop\ndue to the absence of the instance above\n\nHint: Type class instance resolution failures can be inspected with the `set_option trace.Meta.synthInstance true` command.",
            ),
        ),
        "add the missing instance argument",
    ),
    # `apply` with a lemma of another shape
    Row(
        "apply_failed",
        LT,
        "by\n  apply Nat.le_refl",
        (
            (
                2,
                2,
                2,
                19,
                "Tactic `apply` failed: could not unify the conclusion of `Nat.le_refl`\n  ?n ≤ ?n\nwith the goal\n  a < b + 1\n\nNote: The full type of `Nat.le_refl` is\n  ∀ (n : Nat), n ≤ n\n\na b : Nat\nh : a ≤ b\n⊢ a < b + 1",
            ),
        ),
        "apply a lemma whose conclusion has the goal's shape",
    ),
    # a tactic failure no rule knows: the message is quoted, no fix is invented
    Row(
        "other",
        "theorem c_o (p q : Prop) (hp : p) : q :=",
        "by\n  contradiction",
        ((2, 2, 2, 15, "Tactic `contradiction` failed\n\np q : Prop\nhp : p\n⊢ q"),),
        None,
    ),
)


def critique(row: Row):
    messages = [LeanMessage("error", *m) for m in row.messages]
    return step_aligned_critique(Problem("t", row.statement), row.proof, Verdict(False, row.status, messages))


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.category}-{i}" for i, r in enumerate(ROWS)])
def test_real_message_gets_its_category_and_fix(row):
    c = critique(row)
    assert c.category == row.category, c.diagnosis
    assert c.first_failing == row.step and c.located_by == "lean"
    assert f"step {row.step + 1} (`" in c.diagnosis  # the diagnosis names the step
    if row.fix is None:
        assert c.suggestion is None
    else:
        assert row.fix in (c.suggestion or ""), c.suggestion


def test_every_category_has_a_real_message():
    assert {r.category for r in ROWS} == set(CATEGORIES)
