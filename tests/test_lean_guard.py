"""The guard: every rule refuses what it should and lets ordinary proofs through."""

import pytest

from leanfd.lean.guard import (
    _FORBIDDEN_WORDS,
    MAX_FILE_CHARS,
    MAX_PROOF_CHARS,
    MAX_REC_DEPTH,
    blank_comments_and_strings,
    cap_options,
    file_command_refusal,
    file_imports,
    screen,
    screen_file,
)


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


# ------------------------------------------------------------------------------------------------
# Options, host readers, whole files

THM = "theorem t : True := trivial\n"


@pytest.mark.parametrize(
    "proof",
    [
        "by\n  set_option maxRecDepth 5000 in\n  omega",
        "by\n  set_option maxRecDepth 100000 in omega",  # lowered to the cap later, not refused
        "by\n  set_option maxHeartbeats 400000 in\n  simp",
        "by\n  set_option «maxRecDepth» 2000 in omega",
        "by\n  set_option pp.all true in\n  simp",
        "by\n  set_option tactic.hygienic false in\n  intro x\n  exact x",
        "(set_option maxRecDepth 2000 in rfl)",
    ],
)
def test_allowed_options_pass_in_proofs(proof):
    assert screen(proof) is None


@pytest.mark.parametrize(
    ("proof", "phrase"),
    [
        ("by\n  set_option maxHeartbeats 0 in\n  omega", "maxHeartbeats 0"),
        ("by\n  set_option «maxHeartbeats» 0 in omega", "maxHeartbeats 0"),
        ("by\n  set_option maxHeartbeats 0x0 in omega", "decimal"),
        ("by\n  set_option debug.skipKernelTC true in\n  omega", "debug.skipKernelTC"),
        ('by\n  set_option trace.profiler.output "/tmp/x" in omega', "trace.profiler.output"),
        ("by\n  set_option maxRecDepth", "needs an option name and a value"),
        ("by\n  set_option tactic.hygienic 3 in omega", "true or false"),
        ('by exact include_str "/etc/passwd"', "include_str"),
        ("by decide +native", "native"),
        ("by decide (config := { native := true })", "native"),
        ("by bv_decide", "bv_decide"),
        ('by bv_check "x.lrat"', "bv_check"),
        ("by polyrith", "polyrith"),
    ],
)
def test_options_and_host_readers_refused_in_proofs(proof, phrase):
    reason = screen(proof)
    assert reason is not None and phrase in reason, reason


def test_unlimited_heartbeats_pass_when_the_verifier_has_no_limit():
    assert screen("by\n  set_option maxHeartbeats 0 in omega", heartbeats=0) is None


def test_cap_options_lowers_values_and_keeps_positions():
    text = "by\n  set_option maxRecDepth 1000000 in\n  set_option maxHeartbeats 4_000_000 in simp\n  set_option maxRecDepth 20 in rfl"
    out = cap_options(text, 200_000)
    assert len(out) == len(text) and out.count("\n") == text.count("\n")
    assert f"maxRecDepth {MAX_REC_DEPTH}  " in out and "maxHeartbeats 200000    in" in out
    assert "maxRecDepth 20 in" in out  # under the cap: untouched
    assert (
        cap_options("by\n  set_option maxHeartbeats 0 in simp", 0)
        == "by\n  set_option maxHeartbeats 0 in simp"
    )


@pytest.mark.parametrize(
    "file",
    [
        THM,
        "import Init\n\n" + THM,
        "-- header\nimport Init\n" + THM,
        "open Nat in\n" + THM,
        "open Nat\nopen scoped Nat\n" + THM,
        "set_option maxHeartbeats 400000\n" + THM,
        "set_option maxRecDepth 10000 in\n" + THM,
        "def f (n : Nat) : Nat := n\nabbrev g := f\nprivate theorem h : f 1 = 1 := rfl\n" + THM,
        "noncomputable def c : Nat := 0\n" + THM,
        "lemma l : True := trivial\n" + THM,  # Lean says whether `lemma` exists (Mathlib)
        "/-- doc -/\ntheorem d : True := trivial\n/-! module doc -/\n" + THM,
        THM.replace("\n", "\r\n"),
    ],
)
def test_ordinary_files_pass(file):
    assert screen_file(file, ("Init",)) is None


@pytest.mark.parametrize(
    ("file", "phrase"),
    [
        ("", "empty"),
        ("  \n\n", "empty"),
        ("import Mathlib\n" + THM, "imports Mathlib"),
        (THM + "import Init\n", "import"),
        ("import Init.Data.Nat.Basic!\n" + THM, "not a module name"),
        ("namespace Foo\n" + THM + "end Foo\n", "namespace"),
        ("section\n" + THM + "end\n", "section"),
        ("noncomputable section\n" + THM, "section"),
        ("instance : Inhabited Nat := ⟨1⟩\n" + THM, "instance"),
        ('local notation "X" => 1\n' + THM, "local"),
        ("attribute [simp] Nat.add_comm\n" + THM, "attribute"),
        ("@[simp] " + THM, "@[...]"),
        ("axiom bad : False\n" + THM, "axiom"),
        ("opaque o : Nat\n" + THM, "opaque"),
        ("partial def p (n : Nat) : Nat := p n\n" + THM, "partial"),
        ("unsafe def u : Nat := 0\n" + THM, "unsafe"),
        ("example : True := trivial\n" + THM, "example"),
        ("mutual\n" + THM + "end\n", "mutual"),
        ("universe u\n" + THM, "universe"),
        ("variable (n : Nat)\n" + THM, "variable"),
        ("export Nat (succ)\n" + THM, "export"),
        ("deriving instance Repr for Nat\n" + THM, "deriving"),
        (THM + "#eval 1\n", "#eval"),
        (THM + "run_cmd pure ()\n", "run_cmd"),
        ("set_option debug.skipKernelTC true\n" + THM, "debug.skipKernelTC"),
        ("set_option maxHeartbeats 0 in\n" + THM, "maxHeartbeats 0"),
        ('theorem t : True := by\n  have := include_str "/etc/passwd"\n  trivial\n', "include_str"),
        ("in\n" + THM, "starts with `in`"),
        (THM.replace("\n", "\r"), "carriage return"),
        (THM + "\x00", "control"),
        ("-- " + "x" * MAX_FILE_CHARS + "\n" + THM, "limit"),
    ],
)
def test_hostile_files_are_refused(file, phrase):
    reason = screen_file(file, ("Init",))
    assert reason is not None and phrase in reason, reason


def test_file_imports_only_the_leading_lines():
    mods, spans = file_imports(
        "/- c -/\nimport Init\n  import Std.Data\ntheorem t : True := trivial\nimport Lean\n"
    )
    assert mods == ["Init", "Std.Data"] and len(spans) == 2


@pytest.mark.parametrize(
    ("shape", "allowed"),
    [
        ("Lean.Parser.Command.declaration/Lean.Parser.Command.theorem", True),
        ("Lean.Parser.Command.declaration/Lean.Parser.Command.definition", True),
        ("lemma", True),
        ("Lean.Parser.Command.open", True),
        ("Lean.Parser.Command.set_option maxRecDepth in Lean.Parser.Command.open in "
         "Lean.Parser.Command.declaration/Lean.Parser.Command.theorem", True),
        ("Lean.Parser.Command.set_option pp.all", True),
        ("Lean.Parser.Command.declaration/Lean.Parser.Command.instance", False),
        ("Lean.Parser.Command.declaration/Lean.Parser.Command.axiom", False),
        ("Lean.Parser.Command.declaration/Lean.Parser.Command.example", False),
        ("Lean.Parser.Command.set_option debug.skipKernelTC", False),
        ("Lean.Parser.Command.set_option debug.skipKernelTC in "
         "Lean.Parser.Command.declaration/Lean.Parser.Command.theorem", False),
        ("Lean.Parser.Command.open in Lean.Parser.Command.declaration/Lean.Parser.Command.instance", False),
        ("Lean.Parser.Command.notation", False),
        ("Lean.Parser.Command.namespace", False),
        ("Lean.Parser.Command.eval", False),
        ("Lean.Parser.Command.mixfix in Lean.Parser.Command.declaration/Lean.Parser.Command.theorem", False),
    ],
)  # fmt: skip
def test_file_command_allow_list(shape, allowed):
    assert (file_command_refusal(shape) is None) == allowed
