"""Whole-file attempts with the real embedded Lean: hostile files refused with a reason, real
provers' shapes accepted, the statement compared inside Lean, the audit following helpers, the
second wall behind the guard, positions, isolation, bounds, and the CLI."""

import json

import pytest

from leanfd.data.problem import Attempt, Problem
from leanfd.lean.verify import judge, wrap

pytestmark = pytest.mark.lean

LT = Problem("lt", "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :=")
ODD = Problem("odd_sq", "theorem odd_sq (n : Nat) (h : n % 2 = 1) : n * n % 2 = 1 :=")
MATCH = Problem("m", "theorem m (n : Nat) : (match n with | 0 => True | _ => True) :=")
HEADER_DEF = Problem("fh", "theorem fh (n : Nat) : f n = n + 1 :=", header="def f (n : Nat) : Nat := n + 1")
LT_SIG = "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b"

CASES = {
    # name: (problem, file, expected status, a phrase the reason must hold)
    # --- hostile files, each rejected with a reason
    "weaker_statement": (LT, "theorem lt (a b : Nat) (h : a < b) : a ≤ b := by omega\n", "forbidden",
                         "does not state"),
    "different_statement": (LT, "theorem lt : True := trivial\n", "forbidden", "does not state"),
    "added_hypothesis": (LT, "theorem lt (a b : Nat) (h : a < b) (h2 : a + 1 ≤ b) : a + 1 ≤ b := h2\n",
                         "forbidden", "a + 1 ≤ b → a + 1 ≤ b"),
    "sorry_in_used_helper": (LT, f"theorem helper (a b : Nat) (h : a < b) : a + 1 ≤ b := sorry\n"
                             f"{LT_SIG} := helper a b h\n", "sorry", "sorry"),
    "sorry_in_unused_helper": (LT, f"theorem junk : 1 = 2 := sorry\n{LT_SIG} := by omega\n", "sorry", "sorry"),
    "axiom_in_file": (LT, f"axiom cheat : ∀ a b : Nat, a + 1 ≤ b\n{LT_SIG} := cheat a b\n", "forbidden",
                      "axiom"),
    "target_only_in_namespace": (LT, f"namespace Foo\n{LT_SIG} := by omega\nend Foo\n", "forbidden",
                                 "namespace"),
    "target_under_dotted_name": (LT, "theorem Foo.lt (a b : Nat) (h : a < b) : a + 1 ≤ b := by omega\n",
                                 "forbidden", "root namespace"),
    "private_target": (LT, f"private {LT_SIG} := by omega\n", "forbidden", "root namespace"),
    "target_twice": (LT, f"{LT_SIG} := by omega\n{LT_SIG} := by omega\n", "failed", "already"),
    "instance_changes_meaning": (LT, f"instance : LE Nat := ⟨fun _ _ => True⟩\n{LT_SIG} := trivial\n",
                                 "forbidden", "instance"),
    "local_instance": (LT, f"local instance : LE Nat := ⟨fun _ _ => True⟩\n{LT_SIG} := trivial\n",
                       "forbidden", "local"),
    "notation_changes_meaning": (LT, f'notation:50 a " ≤ " b => True\n{LT_SIG} := trivial\n', "forbidden",
                                 "notation"),
    "local_notation": (LT, f'local notation "T" => True\n{LT_SIG} := by omega\n', "forbidden", "local"),
    "macro_rules": (LT, f"macro_rules | `(tactic| omega) => `(tactic| sorry)\n{LT_SIG} := by omega\n",
                    "forbidden", "macro_rules"),
    "include_str": (LT, f'{LT_SIG} := by\n  have s := include_str "/etc/hostname"\n  omega\n', "forbidden",
                    "include_str"),
    "trailing_command": (LT, f"{LT_SIG} := by omega\n#print axioms lt\n", "forbidden", "#print"),
    "trailing_example": (LT, f"{LT_SIG} := by omega\nexample : False := sorry\n", "forbidden", "example"),
    "kernel_check_off": (LT, f"set_option debug.skipKernelTC true in\n{LT_SIG} := by omega\n", "forbidden",
                         "debug.skipKernelTC"),
    "empty_file": (LT, "", "forbidden", "empty"),
    "comments_only": (LT, "-- nothing here\n/- still nothing -/\n", "forbidden", "no theorem"),
    # --- more of what a policy paid for `proved` would try
    "implemented_by": (LT, f"@[implemented_by id] def g (n : Nat) : Nat := n\n{LT_SIG} := by omega\n",
                       "forbidden", "@[...]"),
    "attribute_simp": (LT, f"theorem h1 : 1 = 1 := rfl\nattribute [simp] h1\n{LT_SIG} := by omega\n",
                       "forbidden", "attribute"),
    "export": (LT, f"export Nat (succ)\n{LT_SIG} := by omega\n", "forbidden", "export"),
    "mutual": (LT, f"mutual\ntheorem x : True := trivial\nend\n{LT_SIG} := by omega\n", "forbidden", "mutual"),
    "shadow_nat": (LT, f"def Foo.Nat : Type := Int\nopen Foo\n{LT_SIG} := by omega\n", "failed", "Ambiguous"),
    "noncomputable_section": (LT, f"noncomputable section\n{LT_SIG} := by omega\n", "forbidden", "section"),
    "universe": (LT, f"universe u\n{LT_SIG} := by omega\n", "forbidden", "universe"),
    "lookalike_name": (ODD, "theorem οdd_sq (n : Nat) (h : n % 2 = 1) : n * n % 2 = 1 := by\n"
                       "  rw [Nat.mul_mod, h]\n", "forbidden", "root namespace"),
    "decidable_override": (LT, "instance (a b : Nat) : Decidable (a + 1 ≤ b) := isTrue sorry\n"
                           f"{LT_SIG} := by decide\n", "forbidden", "instance"),
    "deriving_instance": (LT, f"deriving instance Repr for Nat\n{LT_SIG} := by omega\n", "forbidden",
                          "deriving"),
    "native_decide": (LT, "theorem t : 2 + 2 = 4 := by decide +native\n" + f"{LT_SIG} := by omega\n",
                      "forbidden", "native"),
    "unlimited_heartbeats": (LT, f"set_option maxHeartbeats 0 in\n{LT_SIG} := by omega\n", "forbidden",
                             "maxHeartbeats 0"),
    "import_outside_header": (LT, f"import Lean\n{LT_SIG} := by omega\n", "forbidden", "imports Lean"),
    "import_after_code": (LT, f"{LT_SIG} := by omega\nimport Init\n", "forbidden", "import"),
    "leading_in": (LT, f"in\n{LT_SIG} := by omega\n", "forbidden", "`in`"),
    "other_match_in_statement": (MATCH, "theorem m (n : Nat) : (match n with | 1 => True | _ => True) := by\n"
                                 "  split <;> trivial\n", "forbidden", "does not state"),
    "redeclare_header_def": (HEADER_DEF, "def f (n : Nat) : Nat := 0\ntheorem fh (n : Nat) : f n = n + 1 := rfl\n",
                             "failed", "already"),
    # --- accepted files
    "helpers_used": (LT, "def succ' (n : Nat) : Nat := n + 1\n"
                     "theorem succ'_le (a b : Nat) (h : a < b) : succ' a ≤ b := by unfold succ'; omega\n"
                     f"{LT_SIG} := succ'_le a b h\n", "proved", ""),
    "open_in_helper": (LT, "open Nat in\ntheorem helper (a b : Nat) (h : a < b) : succ a ≤ b := h\n"
                       f"{LT_SIG} := helper a b h\n", "proved", ""),
    "max_rec_depth_in_target": (LT, f"set_option maxRecDepth 100000 in\n{LT_SIG} := by omega\n", "proved", ""),
    "classical_em": (LT, f"{LT_SIG} := by\n  rcases Classical.em (a + 1 ≤ b) with h1 | h1\n  · exact h1\n"
                     "  · omega\n", "proved", ""),
    "prover_layout": (LT, "import Init\n\nset_option maxHeartbeats 400000\n\nopen Nat\n\n"
                      "/-- a helper, documented -/\nprivate abbrev two : Nat := 2\n\n"
                      "theorem lt (x y : Nat) (hxy : x < y) : x + 1 ≤ y := by\n  omega\n", "proved", ""),
    "crlf": (LT, f"theorem helper : True := trivial\r\n{LT_SIG} := by\r\n  omega\r\n", "proved", ""),
    # imports behind comments, nested ones too, on their own line or before the import on its line
    "imports_behind_comments": (LT, "/- a /- nested -/\nimport Lean -/\n/- b -/ import Init -- c\n"
                                f"{LT_SIG} := by omega\n", "proved", ""),
    "header_def": (HEADER_DEF, "theorem fh (n : Nat) : f n = n + 1 := rfl\n", "proved", ""),
    "root_prefix": (LT, "theorem _root_.lt (a b : Nat) (h : a < b) : a + 1 ≤ b := by omega\n", "proved", ""),
    "same_match": (MATCH, "theorem m (k : Nat) : (match k with | 0 => True | _ => True) := by\n"
                   "  split <;> trivial\n", "proved", ""),
}  # fmt: skip


@pytest.fixture(scope="module")
def verdicts(verifier):
    attempts = [Attempt(p, file=f) for p, f, _, _ in CASES.values()]
    return dict(zip(CASES, verifier.verify(attempts), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_file_verdict(verdicts, name):
    v = verdicts[name]
    _, _, status, phrase = CASES[name]
    assert v.status == status, (v.status, v.reason, v.messages)
    assert phrase in v.reason, v.reason


def test_changed_statement_reason_shows_both_types(verdicts):
    reason = verdicts["added_hypothesis"].reason
    assert "problem: ∀ (a b : Nat), a < b → a + 1 ≤ b" in reason
    assert "file:    ∀ (a b : Nat), a < b → a + 1 ≤ b → a + 1 ≤ b" in reason


def test_renamed_binders_are_the_same_statement(verdicts):
    # prover_layout names its binders x y hxy; the problem names them a b h
    assert verdicts["prover_layout"].ok and verdicts["classical_em"].ok


def test_messages_carry_the_files_own_positions(verifier):
    f = f"theorem helper : True := trivial\n\n{LT_SIG} := by\n  intro x\n  omega\n"
    (v,) = verifier.verify([Attempt(LT, file=f)])
    (m,) = v.errors
    assert v.status == "failed" and (m.line, m.col) == (4, 8) and "intro" in m.text
    assert v.reason.startswith("line 4:8:")


def test_audit_follows_helpers_into_an_axiom(verifier):
    """Past the guard and the command check, the audit still sees an axiom a helper uses."""
    a = Attempt(LT, file=f"axiom cheat : False\ntheorem helper : 1 = 2 := cheat.elim\n{LT_SIG} := by\n"
                "  have := helper\n  omega\n")  # fmt: skip
    w = wrap(a, 200_000)  # wrap does not screen
    raw = verifier._pool(("Init",))[0].run(w.source, w.theorem, 60, reference=w.reference)
    assert "cheat" in raw.axioms and raw.statement["same"]
    assert judge(w, raw).status == "forbidden"  # the command check refuses the axiom first


@pytest.mark.parametrize(
    ("file", "same", "reason"),
    [
        # an instance that changes what `≤` means: a different statement, and a refused command
        (f"instance weird : LE Nat := ⟨fun _ _ => True⟩\n{LT_SIG} := trivial\n", False, "instance"),
        (f'notation:50 a " ≤ " b => True\n{LT_SIG} := trivial\n', False, "notation"),
        (f"set_option debug.skipKernelTC true in\n{LT_SIG} := by omega\n", True, "debug.skipKernelTC"),
        (f"in\n{LT_SIG} := by omega\n", True, "continues"),
    ],
)
def test_second_wall_behind_the_guard(verifier, file, same, reason):
    w = wrap(Attempt(LT, file=file), 200_000)
    raw = verifier._pool(("Init",))[0].run(w.source, w.theorem, 60, reference=w.reference)
    assert bool(raw.statement["same"]) == same
    v = judge(w, raw)
    assert v.status == "forbidden" and reason in v.reason, v.reason


def test_helpers_never_reach_another_attempt(verifier):
    secret = Problem("sec", "theorem sec : secret = 1 :=")
    vs = verifier.verify(
        [
            Attempt(LT, file=f"def secret : Nat := 1\n{LT_SIG} := by omega\n"),
            Attempt(secret, "rfl"),
            Attempt(LT, file=f"{LT_SIG} := by omega\ntheorem uses : secret = 1 := rfl\n"),
        ]
    )
    assert [v.status for v in vs] == ["proved", "failed", "failed"]


def test_heartbeats_bound_every_command_of_the_file(verifier):
    heavy = "theorem heavy : (List.range 2000).foldl (· + ·) 0 = 1999000 := by decide\n"
    (v,) = verifier.verify([Attempt(LT, file=heavy + f"{LT_SIG} := by omega\n")], heartbeats=500)
    assert v.status == "timeout"


def test_heartbeat_options_above_the_limit_are_lowered(verifier):
    heavy = "set_option maxHeartbeats 99999999 in\ntheorem heavy : (List.range 2000).foldl (· + ·) 0 = 1999000 := by decide\n"
    (v,) = verifier.verify([Attempt(LT, file=heavy + f"{LT_SIG} := by omega\n")], heartbeats=500)
    assert v.status == "timeout"


def test_proofs_may_set_max_rec_depth(verifier):
    ok, zero = verifier.verify(
        [
            Attempt(LT, "by\n  set_option maxRecDepth 100000 in\n  omega"),
            Attempt(LT, "by\n  set_option maxHeartbeats 0 in\n  omega"),
        ]
    )
    assert ok.status == "proved"
    assert zero.status == "forbidden" and "maxHeartbeats 0" in zero.reason


def test_include_str_in_a_proof_is_refused(verifier):
    (v,) = verifier.verify([Attempt(LT, 'by\n  have s := include_str "/etc/hostname"\n  omega')])
    assert v.status == "forbidden" and "include_str" in v.reason


def test_cli_verify_takes_file_rows(verifier, tmp_path):
    from typer.testing import CliRunner

    from leanfd.cli import app

    inp = tmp_path / "in.jsonl"
    rows = [
        {"id": "proof", "statement": LT.statement, "proof": "by omega"},
        {"id": "file", "statement": LT.statement, "file": f"{LT_SIG} := by omega\n"},
        {
            "id": "weaker",
            "statement": LT.statement,
            "file": "theorem lt (a b : Nat) : a ≤ a + b := by omega\n",
        },
    ]
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    args = ["verify", str(inp), "-o", str(out), "--backend", "embedded", "--workers", str(verifier.workers)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["status"] for g in got] == ["proved", "proved", "forbidden"]


def test_cli_verify_files_against_the_core_suite(verifier, tmp_path):
    from typer.testing import CliRunner

    from leanfd.cli import app
    from leanfd.data import load_suite

    suite = {p.name: p for p in load_suite("core")}
    good = suite["mathd_numbertheory_335"]
    files = tmp_path / "prover"
    files.mkdir()
    (files / f"{good.name}.lean").write_text(f"import Init\n\n{good.statement} {good.reference_proof}\n")
    # a weaker statement under the right name
    (files / "mathd_numbertheory_458.lean").write_text(
        "theorem mathd_numbertheory_458 (n : Nat) (h₀ : n % 8 = 7) : n % 4 < 4 := by omega\n"
    )
    out = tmp_path / "verdicts.jsonl"
    args = ["verify-files", str(files), "--suite", "core", "-o", str(out), "--backend", "embedded",
            "--workers", str(verifier.workers)]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    got = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert got[good.name]["status"] == "proved"
    assert got["mathd_numbertheory_458"]["status"] == "forbidden"


def test_cli_verify_files_names_unknown_problems(tmp_path):
    from typer.testing import CliRunner

    from leanfd.cli import app

    (tmp_path / "no_such_problem.lean").write_text("theorem no_such_problem : True := trivial\n")
    res = CliRunner().invoke(app, ["verify-files", str(tmp_path), "--suite", "core"])
    assert res.exit_code == 2 and "no_such_problem" in res.output
