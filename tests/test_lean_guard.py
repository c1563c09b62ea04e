"""The guard: every rule refuses what it should and lets ordinary proofs through."""

import pytest

from leanfd.lean.guard import _FORBIDDEN_WORDS, MAX_PROOF_CHARS, blank_comments_and_strings, screen


@pytest.mark.parametrize("word", sorted(_FORBIDDEN_WORDS))
def test_every_forbidden_word_is_refused(word):
    reason = screen(f"by\n  simp\n  {word} foo")
    assert reason is not None and f"`{word}`" in reason


@pytest.mark.parametrize(
    "proof",
    [
        "by simp\n#eval IO.println 1",
        "by decide\n#print axioms foo",
        "by omega\n#exit",
        "by\n  #check Nat",
        "by @[simp] theorem x : True := trivial",
        "by exact Lean.ofReduceBool _ _ rfl",
        "by exact Lean.trustCompiler",
        "by exact sorryAx _ false",
        "by simp\nopen Nat",
        "by simp\x00",
        "by\n  set_option maxHeartbeats 0 in omega",
        "by simp\nend",
        "by simp\nnamespace Foo",
        "by simp\nsection",
        "by simp\nattribute [simp] foo",
        "by simp\ninstance : Inhabited Nat := ⟨0⟩",
        "by simp\naxiom bad : False",
        'rfl\nmacro "omega" : tactic => `(tactic| sorry)',
        "by run_tac pure ()",
        "by_elab pure ()",
        "by simp\nimport Lean",
        "by simp\nunsafe def x := 1",
        "by exact (unsafeCast 0 : False)",
    ],
)
def test_escape_attempts_are_refused(proof):
    assert screen(proof) is not None


@pytest.mark.parametrize(
    "proof",
    [
        "by omega",
        "by\n  intro n\n  induction n with\n  | zero => rfl\n  | succ k ih => simp [ih]",
        "by\n  have h' : 1 = 1 := rfl\n  have h'' := h'\n  exact h''",
        "by\n  -- theorem in a comment is fine; so is #eval\n  decide",
        "/- macro, axiom, set_option: all inside a block comment -/ by omega",
        "/- nested /- comment -/ still macro -/ by omega",
        'by exact ("def theorem #eval".length = 17 : Prop) ▸ rfl',
        "by exact 'a'.toNat_pos",
        "by open Nat in simp [succ_le]",
        "fun n => Nat.le_refl n",
        "by\n  cases h with\n  | inl h => exact h.elim\n  | inr h => exact h",
        "by simp [Nat.add_comm, List.length_append]",
    ],
)
def test_ordinary_proofs_pass(proof):
    assert screen(proof) is None


def test_too_long_is_refused():
    assert "limit" in screen("by " + "skip; " * (MAX_PROOF_CHARS // 6 + 10))


def test_blanking_keeps_positions():
    text = 'a -- c\n/- x\n-/ "s\\"q" b'
    out = blank_comments_and_strings(text)
    assert len(out) == len(text)
    assert out.count("\n") == text.count("\n")
    assert out.split() == ["a", "b"]
