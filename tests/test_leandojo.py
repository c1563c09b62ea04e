"""LeanDojo benchmark files as leanfd suites, on a small hand-made file in LeanDojo's format
(tests/fixtures/leandojo/test.json and the "repository" file it points at)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leanfd.data.leandojo import (
    LeanDojoFormatError,
    cites_original,
    dojo_steps,
    load_leandojo,
    read_leandojo,
    split_at_assign,
    statement_from_goal,
)
from leanfd.data.problem import Attempt

LD = Path(__file__).resolve().parent / "fixtures" / "leandojo"


def test_reads_leandojo_fields():
    thms = read_leandojo(LD / "test.json")
    assert [t.full_name for t in thms] == [
        "Demo.add_zero'",
        "Demo.two_le",
        "Demo.List.length_refl",
        "Demo.with_let",
    ]
    t = thms[2]
    assert t.file_path == "Demo/Extra.lean" and t.start == (3, 1) and t.end == (5, 8)
    assert t.traced_tactics[0].premises == ("Eq.refl",)
    assert t.initial_goal.startswith("α : Type u_1")
    assert thms[3].start == (9, 1)  # older "Pos(line_nb=…, column_nb=…)" strings are read too


def test_statements_without_the_repository():
    suite = load_leandojo(LD / "test.json", header="")
    assert suite.skipped == ["Demo.with_let"]  # a let-bound hypothesis has no binder form
    assert suite.how == ["goal", "theorem_statement", "goal"]
    p0, p1, p2 = suite.problems
    assert p0.name == "Demo.add_zero'" and p0.source == "leandojo:Demo/Basic.lean" and p0.split == "test"
    assert p0.statement == "theorem leandojo_Demo_add_zero_ (n : Nat) :\n    n + 0 = n :="
    assert p1.statement == "theorem leandojo_Demo_two_le (a b : Nat) (h : 2 ≤ a) (hb : a ≤ b) : 2 ≤ b :="
    assert p2.statement == (
        "theorem leandojo_Demo_List_length_refl (α : Type u_1) [DecidableEq α] (xs_1 : List α) :\n"
        "    xs_1.length = xs_1.length :="
    )
    assert p2.header == "\nopen Demo.List"


def test_statements_from_the_repository_checkout():
    suite = load_leandojo(LD / "test.json", header="", repo_dir=LD, limit=2)
    assert suite.how == ["source", "source"]
    p0, p1 = suite.problems
    assert p0.statement == "theorem leandojo_Demo_add_zero_ (n : Nat) : n + 0 = n :="
    assert p0.reference_proof == "by\n  simp"
    assert p1.reference_proof == "by\n  omega"
    assert p0.original_statement.startswith("theorem add_zero'")


def test_split_at_assign_ignores_nested_and_commented_assigns():
    assert split_at_assign("theorem t (x : Nat := 1) : x = x := rfl") == (
        "theorem t (x : Nat := 1) : x = x :=",
        " rfl",
    )
    assert split_at_assign("theorem t -- a := b\n : True := trivial")[1] == " trivial"
    assert split_at_assign("def f : Nat → Nat\n  | 0 => 1\n  | n+1 => n") is None
    assert statement_from_goal("no goals", "x") is None


def test_cites_original():
    thm = read_leandojo(LD / "test.json")[1]
    assert cites_original("Demo.two_le a b h hb", thm)
    assert cites_original("by exact two_le _ _ h hb", thm)
    assert not cites_original("by omega", thm)


def test_malformed_files_say_where(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps([{"url": "u"}]))
    with pytest.raises(LeanDojoFormatError, match=r"x.json\[0\]: missing field"):
        read_leandojo(bad)
    bad.write_text("{")
    with pytest.raises(LeanDojoFormatError, match="not valid JSON"):
        read_leandojo(bad)


def test_dojo_needs_lean_dojo_and_says_so():
    try:
        import lean_dojo  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install lean-dojo"):
            dojo_steps(read_leandojo(LD / "test.json")[0], ["simp"])
    else:
        pytest.skip("lean_dojo is installed; the real Dojo needs GitHub to trace the repository")


@pytest.mark.lean
@pytest.mark.slow
def test_recovered_statements_are_real_lean(verifier):
    """Every recovered statement elaborates under the real (embedded) Lean and takes its proof."""
    # core Lean: no Mathlib to import, and the Demo namespace exists only in the "repository"
    from_goal = load_leandojo(LD / "test.json", header="", open_namespace=False)
    from_source = load_leandojo(LD / "test.json", header="", repo_dir=LD, limit=2, open_namespace=False)
    assert from_goal.problems[0].header == "" and from_source.problems[0].header == ""
    attempts = [Attempt(p, "by simp") for p in from_goal.problems[:1]]
    attempts += [Attempt(from_goal.problems[1], "by omega"), Attempt(from_goal.problems[2], "rfl")]
    attempts += [Attempt(p, p.reference_proof) for p in from_source.problems]
    attempts += [Attempt(from_goal.problems[1], "by simp")]  # a wrong proof still fails
    verdicts = verifier.verify(attempts, timeout_s=60)
    assert [v.status for v in verdicts] == ["proved"] * 5 + ["failed"], [
        v.reason or v.messages for v in verdicts
    ]
