"""The step splitter and message placement on many proof layouts (pure, no Lean)."""

from __future__ import annotations

import pytest

from leanfd.critic.align import align, extract_goal, place_message
from leanfd.critic.steps import split_steps
from leanfd.lean.types import LeanMessage


def shape(proof: str) -> list[tuple[str, int, str]]:
    return [(s.text, s.depth, s.kind) for s in split_steps(proof).steps]


@pytest.mark.parametrize(
    "proof, expected",
    [
        ("by\n  intro n\n  omega", [("intro n", 0, "tactic"), ("omega", 0, "tactic")]),
        ("by intro n; omega", [("intro n", 0, "tactic"), ("omega", 0, "tactic")]),
        ("by\n  cases h <;> simp", [("cases h", 0, "tactic"), ("simp", 0, "tactic")]),
        ("fun n => by omega", [("fun n => by omega", 0, "term")]),
        ("Nat.le_refl n", [("Nat.le_refl n", 0, "term")]),
        # brackets, comments and strings do not split
        (
            "by\n  simp [foo,\n    bar]\n  -- a comment; here\n  exact ⟨by simp; omega, rfl⟩",
            [("simp [foo,\n    bar]", 0, "tactic"), ("exact ⟨by simp; omega, rfl⟩", 0, "tactic")],
        ),
        (
            "by\n  /- block; comment\n  -/\n  simp -- why\n  omega",
            [("simp", 0, "tactic"), ("omega", 0, "tactic")],
        ),
        # a line indented further continues the tactic above
        (
            "by\n  refine foo\n    bar baz\n  omega",
            [("refine foo\n    bar baz", 0, "tactic"), ("omega", 0, "tactic")],
        ),
        # an unclosed bracket swallows the rest, as in Lean
        ("by\n  rw [h\n  rfl", [("rw [h\n  rfl", 0, "tactic")]),
        # a have with a one-line proof is one step; a multi-line one has nested steps
        (
            "by\n  have h : x := by omega\n  exact h",
            [("have h : x := by omega", 0, "have"), ("exact h", 0, "tactic")],
        ),
        (
            "by\n  have h3 : n ≠ 0 := by\n    intro hn\n    simp\n  omega",
            [
                ("have h3 : n ≠ 0 := by\n    intro hn\n    simp", 0, "have"),
                ("intro hn", 1, "tactic"),
                ("simp", 1, "tactic"),
                ("omega", 0, "tactic"),
            ],
        ),
        (
            "by\n  constructor\n  · simp; omega\n  · exact foo",
            [
                ("constructor", 0, "tactic"),
                ("· simp; omega", 0, "focus"),
                ("simp", 1, "tactic"),
                ("omega", 1, "tactic"),
                ("· exact foo", 0, "focus"),
                ("exact foo", 1, "tactic"),
            ],
        ),
        (
            "by\n  ·\n    simp\n    omega\n  · rfl",
            [
                ("·\n    simp\n    omega", 0, "focus"),
                ("simp", 1, "tactic"),
                ("omega", 1, "tactic"),
                ("· rfl", 0, "focus"),
                ("rfl", 1, "tactic"),
            ],
        ),
        (
            "by\n  induction a with\n  | zero => simp\n  | succ k ih =>\n    rw [Nat.succ_mul]\n    omega",
            [
                (
                    "induction a with\n  | zero => simp\n  | succ k ih =>\n    rw [Nat.succ_mul]\n    omega",
                    0,
                    "tactic",
                ),
                ("| zero => simp", 1, "alt"),
                ("simp", 2, "tactic"),
                ("| succ k ih =>\n    rw [Nat.succ_mul]\n    omega", 1, "alt"),
                ("rw [Nat.succ_mul]", 2, "tactic"),
                ("omega", 2, "tactic"),
            ],
        ),
        (
            "by\n  refine ⟨?_, ?_⟩\n  case left => exact hq\n  next =>\n    simp\n    exact hq",
            [
                ("refine ⟨?_, ?_⟩", 0, "tactic"),
                ("case left => exact hq", 0, "case"),
                ("exact hq", 1, "tactic"),
                ("next =>\n    simp\n    exact hq", 0, "case"),
                ("simp", 1, "tactic"),
                ("exact hq", 1, "tactic"),
            ],
        ),
        (
            "by\n  calc a < b := h1\n    _ < c := by simp",
            [
                ("calc a < b := h1\n    _ < c := by simp", 0, "calc"),
                ("a < b := h1", 1, "calc_step"),
                ("_ < c := by simp", 1, "calc_step"),
            ],
        ),
        (
            "by\n  calc\n    a = b := by\n      simp\n      omega\n    _ = c := h",
            [
                ("calc\n    a = b := by\n      simp\n      omega\n    _ = c := h", 0, "calc"),
                ("a = b := by\n      simp\n      omega", 1, "calc_step"),
                ("simp", 2, "tactic"),
                ("omega", 2, "tactic"),
                ("_ = c := h", 1, "calc_step"),
            ],
        ),
        # `first | a | b` alternatives without `=>` stay one step
        ("by\n  first\n  | simp\n  | omega", [("first\n  | simp\n  | omega", 0, "tactic")]),
        ("by", []),
        ("", []),
    ],
)
def test_split_layouts(proof, expected):
    assert shape(proof) == expected


def test_spans_follow_lean_message_convention():
    proof = "by\n  intro n\n  constructor <;> omega"
    steps = split_steps(proof).steps
    # line 1-based, col 0-based, line 1 = first line of the proof text; end exclusive
    assert [(s.span.line, s.span.col, s.span.end_line, s.span.end_col) for s in steps] == [
        (2, 2, 2, 9),
        (3, 2, 3, 13),
        (3, 18, 3, 23),
    ]
    for s in steps:
        assert proof[s.start : s.end] == s.text
    # columns count code points, as Lean does
    uni = split_steps("by\n  have h : α ≤ β := le\n  exact h").steps
    assert uni[1].span.col == 2 and uni[0].span.end_col == len("  have h : α ≤ β := le")


def test_parents_and_blocks():
    ps = split_steps("by\n  have h : p := by\n    simp\n    omega\n  exact h")
    assert [s.parent for s in ps.steps] == [None, 0, 0, None]
    top = [b for b in ps.blocks if b.owner is None][0]
    assert top.steps == (0, 3) and (top.opener.line, top.opener.col) == (1, 0)
    nested = [b for b in ps.blocks if b.owner == 0][0]
    assert nested.steps == (1, 2) and (nested.opener.line, nested.opener.col) == (2, 16)
    assert ps.descendants(0) == [1, 2]


def msg(line, col, text, severity="error"):
    return LeanMessage(severity, line, col, line, col + 1, text)


def test_place_unsolved_goals_on_block_opener():
    ps = split_steps("by\n  constructor\n  · exact hp")
    # Lean reports leftover goals on the `by`: they belong to the block's last step
    assert place_message(ps, msg(1, 0, "unsolved goals\n⊢ q")) == 1
    # leftover goals of a `·` block are reported on the `·`
    ps2 = split_steps("by\n  constructor\n  · constructor\n    exact hp\n  · trivial")
    assert place_message(ps2, msg(3, 2, "unsolved goals\n⊢ q")) == 3
    # a message on the statement, or clamped to (1, 0), is no step's
    assert place_message(ps, msg(0, 8, "unused variable")) is None
    assert place_message(ps, msg(1, 0, "declaration uses `sorry`", "warning")) is None


def test_not_reached_follows_lean_recovery():
    ps = split_steps("by\n  constructor\n  exact foo\n  exact h\n  omega")
    # an unknown identifier is elaborated as sorry: the sequence goes on
    al = align(ps, [msg(3, 8, "Unknown identifier `foo`")])
    assert al.verdicts == ["ok", "failed", "ok", "ok"] and al.first_failing == 1
    # a tactic that throws ends the sequence
    al = align(ps, [msg(3, 2, "Type mismatch\n  foo\nhas type\n  a\nbut is expected to have type\n  b")])
    assert al.verdicts == ["ok", "failed", "not reached", "not reached"]
    # a later step with its own error is still reported, honestly
    al = align(ps, [msg(3, 2, "`simp` made no progress"), msg(5, 2, "omega could not prove the goal:\nx")])
    assert al.verdicts == ["ok", "failed", "not reached", "failed"] and al.first_failing == 1


def test_focus_blocks_recover():
    ps = split_steps("by\n  constructor\n  · exact hq\n  · omega")
    al = align(ps, [msg(3, 10, "Type mismatch")])
    assert al.verdicts == ["ok", "failed", "failed", "ok", "ok"]


def test_syntax_error_redirects_unsolved_goals():
    ps = split_steps("by\n  intro\n  linarith\n  omega")
    al = align(ps, [msg(1, 0, "unsolved goals\nn : Nat\n⊢ n + 1 > n"), msg(3, 3, "unknown tactic")])
    assert al.first_failing == 1
    assert al.verdicts == ["ok", "failed", "not reached"]
    assert al.errors(1)[0].text == "unknown tactic"  # the cause before its consequence
    assert al.goal.goal == "n : Nat\n⊢ n + 1 > n"  # the goal comes from the unsolved-goals message


def test_extract_goal_shapes():
    g = extract_goal(
        "Tactic `rfl` failed: The left-hand side\n  k + 1\nis not equal\n\ncase succ\nk : Nat\n⊢ k + 1 = 1 + k"
    )
    assert g.goal == "case succ\nk : Nat\n⊢ k + 1 = 1 + k"
    g = extract_goal("omega could not prove the goal:\na possible counterexample\n  a ≥ 7\nwhere\n a := ↑x")
    assert g.goal is None and g.facts.startswith("a possible counterexample")
    g = extract_goal("Tactic `decide` proved that the proposition\n  2 ^ 10 = 1023\nis false")
    assert g.proposition == "2 ^ 10 = 1023"
    g = extract_goal("Type mismatch\n  h\nhas type\n  a < b\nbut is expected to have type\n  a ≤ b")
    assert (g.actual, g.expected) == ("a < b", "a ≤ b")
