"""The agent tools on the real embedded Lean (the session's warm verifier): check in each feedback
format, proofs and whole files, goals, the batch verify, and the Kimina-named aliases."""

from __future__ import annotations

import pytest

from leanfd.env import kimina, tools
from leanfd.env.tools import ToolError

pytestmark = pytest.mark.lean

ST = "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :="


def test_check_proved_and_failed_with_goal_and_snippet(verifier):
    assert tools.check(ST, "by omega", verifier=verifier) == "proved: Lean accepts this proof of `lt`."
    out = tools.check(ST, "by\n  have h2 : a + 2 ≤ b := by omega\n  exact h2", verifier=verifier)
    assert out.startswith("failed: Lean rejected the attempt.\nLean found 2 errors.")
    assert "Error 1 at line 2, column 28: omega could not prove the goal" in out
    assert "Goal before the error:\na b : Nat\nh : a < b\n⊢ a + 2 ≤ b" in out
    assert "  1 | by\n> 2 |   have h2" in out and "  3 |   exact h2" in out


def test_check_feedback_formats(verifier):
    crit = tools.check(ST, "by\n  intro x\n  omega", feedback="critique", verifier=verifier)
    assert "Step 1 is where it goes wrong: `intro x`" in crit and "Goal at step 1" in crit
    assert (
        tools.check(ST, "by simp", feedback="binary", verifier=verifier)
        == "failed: Lean rejected the attempt."
    )
    assert tools.check(ST, "by sorry", verifier=verifier).startswith("sorry: the proof uses sorry")
    assert tools.check(ST, "by omega\n#eval 1", verifier=verifier).startswith(
        "forbidden: `#eval` is a command"
    )
    with pytest.raises(ToolError, match="unknown feedback format"):
        tools.check(ST, "by omega", feedback="poem", verifier=verifier)
    with pytest.raises(ToolError, match="must end with ':='"):
        tools.check("theorem lt : True", "trivial", verifier=verifier)


def test_check_whole_files_against_the_fixed_statement(verifier):
    helper = "theorem helper (a b : Nat) (h : a < b) : a + 1 ≤ b := by omega\n\n"
    assert tools.check(ST, helper + ST + " helper a b h", verifier=verifier).startswith("proved")
    restated = ST + " by\n  simp\n  exact h"
    out = tools.check(ST, restated, verifier=verifier)
    assert out.startswith("failed") and "> 2 |   simp" in out  # positions are the file's own
    critique = tools.check(ST, restated, feedback="critique", verifier=verifier)
    assert "for a whole file, Lean's errors follow" in critique and "> 2 |   simp" in critique
    weaker = "theorem lt (a b : Nat) (h : a < b) : a ≤ b := by omega"
    assert tools.check(ST, weaker, verifier=verifier).startswith("forbidden")


def test_goals_at_a_line_of_a_partial_proof(verifier):
    partial = "by\n  have h2 : a + 1 ≤ b := by omega\n  sorry"
    out = tools.goals(ST, partial, 2, verifier=verifier)
    assert out.startswith("Goals before line 2:\na b : Nat\nh : a < b\n⊢ a + 1 ≤ b")
    assert "Goals after line 2:\na b : Nat\nh : a < b\nh2 : a + 1 ≤ b\n⊢ a + 1 ≤ b" in out
    with pytest.raises(ToolError, match="outside the code"):
        tools.goals(ST, partial, 9, verifier=verifier)


def test_search_and_read_in_the_core_environment(verifier):
    found = tools.search("lt_irrefl", verifier=verifier)
    assert "(substring match, " in found and "\nNat.lt_irrefl (n : Nat) : ¬n < n" in found
    fuzzy = tools.search("lt_irefl", limit=3, verifier=verifier)  # a typo
    assert "(fuzzy match" in fuzzy and "Nat.lt_irrefl" in fuzzy
    assert "(words match" in tools.search("comm add Nat", verifier=verifier)
    assert len(tools.library(verifier).index("")) > 30_000  # Init's searchable names
    read = tools.read("Nat.add_comm", verifier=verifier)
    assert read.startswith(
        "Nat.add_comm (n m : Nat) : n + m = m + n\nkind: theorem; module: Init.Data.Nat.Basic"
    )
    assert "the embedded Lean ships its library without docstrings" in read
    assert "kind: def" in tools.read("List.map", verifier=verifier)
    assert "kind: axiom" in tools.read("propext", verifier=verifier)
    unknown = tools.read("Nat.lt_irefl", verifier=verifier)
    assert unknown.startswith("Unknown constant 'Nat.lt_irefl'") and "Nat.lt_irrefl" in unknown
    with pytest.raises(ToolError, match="embedded Lean"):
        tools.search("add_comm", header="import Mathlib", verifier=verifier)
    with pytest.raises(ToolError, match="empty"):
        tools.search("  ", verifier=verifier)
    rg = kimina.rg_in_mathlib(r"^Nat\.lt_irrefl$", "Init/Prelude*", verifier=verifier)
    assert rg == "Init/Prelude.lean: Nat.lt_irrefl (n : Nat) : ¬n < n"


def test_verify_batch_keeps_order_and_reports_bad_rows(verifier):
    out = tools.verify(
        [
            {"statement": ST, "code": "by omega"},
            {"statement": "lemma broken", "proof": "rfl"},
            {"statement": ST, "proof": "by simp"},
        ],
        verifier=verifier,
    )
    assert [r["status"] for r in out] == ["proved", "forbidden", "failed"]
    assert "must end with ':='" in out[1]["reason"]


def test_kimina_aliases(verifier, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANFD_CACHE", str(tmp_path))
    good = kimina.lean_run_code("theorem two : 1 + 1 = 2 := by decide", verifier=verifier)
    assert good.startswith("is_valid: true\nstatus: proved")
    bad = kimina.lean_run_code("example (n : Nat) : n + 0 = n + 1 := by omega", verifier=verifier)
    assert bad.startswith("is_valid: false") and "omega could not prove the goal" in bad
    wrote = kimina.lean_write_file("theorem t3 : 2 + 1 = 3 := rfl", "t3", "traj-1", verifier=verifier)
    path = wrote.splitlines()[0].removeprefix("wrote ")
    assert path.endswith("traj-1/t3.lean") and "is_valid: true" in wrote
    again = kimina.lean_check_file(path, return_lemmas_list=True, verifier=verifier)
    assert again.startswith("is_valid: true")
    for bad_name in ("../x", "a/b", ""):
        with pytest.raises(ToolError):
            kimina.lean_write_file("theorem t : True := trivial", bad_name, "traj-1", verifier=verifier)
    with pytest.raises(ToolError, match="only files written with lean_write_file"):
        kimina.lean_check_file("/etc/passwd", verifier=verifier)
