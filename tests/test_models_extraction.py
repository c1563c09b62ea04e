"""Proof extraction from completions: fences, restated theorems, bare `by`, trailing junk."""

from __future__ import annotations

import pytest

from leanfd.models.extraction import extract_proof

ST = "theorem add_zero' (n : Nat) : n + 0 = n :="


def test_fenced_restated_theorem():
    c = f"Here is the proof:\n```lean4\n{ST} by\n  simp\n```\nThis uses simp."
    assert extract_proof(c, ST) == "by\n  simp"


def test_fenced_lean_tag_and_untagged():
    assert extract_proof(f"```lean\n{ST} by omega\n```", ST) == "by omega"
    assert extract_proof(f"```\n{ST} by omega\n```", ST) == "by omega"


def test_non_lean_block_is_ignored():
    c = "```python\nprint(1)\n```\n```lean4\nby decide\n```"
    assert extract_proof(c, ST) == "by decide"
    assert extract_proof("```python\nx := by 1\n```") is None


def test_last_complete_block_wins():
    c = f"First try:\n```lean4\n{ST} by\n  rfl\n```\nOops, fix:\n```lean4\n{ST} by\n  simp\n```\n"
    assert extract_proof(c, ST) == "by\n  simp"


def test_earlier_block_used_when_last_has_no_proof():
    c = f"```lean4\n{ST} by simp\n```\nThe statement was:\n```lean4\ntheorem add_zero' (n : Nat) : n + 0 = n\n```"
    assert extract_proof(c, ST) == "by simp"


def test_block_with_only_tactics_and_leading_assign():
    assert extract_proof("```lean4\nby\n  induction n <;> simp\n```", ST) == "by\n  induction n <;> simp"
    assert extract_proof("```lean4\n:= by omega\n```", ST) == "by omega"


def test_term_proof():
    c = f"```lean4\n{ST}\n  Nat.add_zero n\n```"
    assert extract_proof(c, ST) == "Nat.add_zero n"


def test_statement_matched_up_to_whitespace():
    c = "```lean4\ntheorem add_zero'   (n : Nat) :\n    n + 0 = n := by\n  simp\n```"
    assert extract_proof(c, ST) == "by\n  simp"


def test_different_restated_statement_still_gives_its_proof():
    # The model changed the statement; the verifier checks the trusted one, so take its proof part.
    c = "```lean4\ntheorem add_zero' (m : Nat) : m + 0 = m := by\n  simp\n```"
    assert extract_proof(c, ST) == "by\n  simp"


def test_binder_default_and_let_in_signature():
    c = "```lean4\ntheorem t (x : Nat := 0) (h : x = x) : x = x := by\n  rfl\n```"
    assert extract_proof(c) == "by\n  rfl"


def test_comment_containing_assign_is_skipped():
    c = "```lean4\ntheorem t : True -- note := junk\n  := by trivial\n```"
    assert extract_proof(c) == "by trivial"


def test_helper_lemma_then_named_theorem():
    c = f"```lean4\ntheorem helper (n : Nat) : 0 + n = n := by simp\n\n{ST} by\n  simp\n```"
    assert extract_proof(c, ST) == "by\n  simp"


def test_trailing_second_declaration_is_cut():
    c = f"```lean4\n{ST} by\n  simp\n\ntheorem extra : True := trivial\n#eval 1\n```"
    assert extract_proof(c, ST) == "by\n  simp"


def test_trailing_eval_without_blank_line_is_cut():
    c = f"```lean4\n{ST} by\n  simp\n#eval IO.println 1\n```"
    assert extract_proof(c, ST) == "by\n  simp"


def test_column0_tactics_are_kept():
    c = f"```lean4\n{ST} by\nsimp\n```"
    assert extract_proof(c, ST) == "by\nsimp"


def test_unterminated_fence():
    c = f"```lean4\n{ST} by\n  induction n with\n  | zero => rfl\n  | succ k ih =>"
    assert extract_proof(c, ST) == "by\n  induction n with\n  | zero => rfl\n  | succ k ih =>"


def test_closed_block_preferred_over_unterminated():
    c = f"```lean4\n{ST} by simp\n```\nAnother:\n```lean4\n{ST} by omeg"
    assert extract_proof(c, ST) == "by simp"


def test_fence_glued_to_last_line():
    c = f"```lean4\n{ST} by\n  omega```\nDone."
    assert extract_proof(c, ST) == "by\n  omega"


def test_prefilled_response_prefix():
    prefix = f"```lean4\n{ST}"
    completion = " by\n  simp\n```\n\nExplanation: simp uses Nat.add_zero."
    assert extract_proof(prefix + completion, ST) == "by\n  simp"


def test_no_fence_restated_theorem_with_prose_after():
    c = f"{ST} by\n  simp\n\nThis works because n + 0 reduces to n."
    assert extract_proof(c, ST) == "by\n  simp"


def test_bare_by_without_fence():
    assert extract_proof("by\n  omega\n\nThat's it.", ST) == "by\n  omega"
    assert extract_proof("The proof is\nby decide", ST) == "by decide"


def test_prose_with_by_in_sentence_is_not_a_proof():
    assert extract_proof("We prove this by induction on n.", ST) is None


@pytest.mark.parametrize(
    "completion",
    ["", "   ", "I don't know.", "```lean4\ntheorem t : True\n```", "```lean4\n\n```"],
)
def test_nothing_to_extract(completion):
    assert extract_proof(completion, ST) is None


def test_example_declaration():
    c = "```lean4\nexample : 2 + 2 = 4 := by decide\n```"
    assert extract_proof(c, "example : 2 + 2 = 4 :=") == "by decide"
