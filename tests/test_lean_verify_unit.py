"""Verifier logic that needs no Lean: wrapping, position mapping, judging raw results."""

import pytest

from leanfd.data.problem import Attempt, Problem
from leanfd.lean.session import RawResult
from leanfd.lean.types import Verdict
from leanfd.lean.verify import VerifyInputError, judge, split_header, to_messages, wrap

P = Problem("p", "theorem p (a : Nat) : a + 0 = a :=", header="open Nat")


def test_wrap_places_proof_after_statement():
    w = wrap(Attempt(P, "by\n  simp"), heartbeats=1000)
    assert w.theorem == "p" and w.imports == ("Init",)
    lines = w.source.split("\n")
    assert lines[0] == "open Nat"
    assert lines[w.theorem_line - 1] == "set_option maxHeartbeats 1000 in"
    assert lines[w.proof_line - 2] == P.statement
    assert lines[w.proof_line - 1] == "by" and lines[w.proof_line] == "  simp"


def test_positions_are_relative_to_the_proof():
    w = wrap(Attempt(P, "by\n  simp\n  omega"), heartbeats=1000)
    raw = [{"severity": "error", "pos": {"line": w.proof_line + 2, "column": 2},
            "endPos": {"line": w.proof_line + 2, "column": 7}, "data": "boom"},
           {"severity": "error", "pos": {"line": w.proof_line, "column": 0},
            "endPos": {"line": w.proof_line, "column": 2}, "data": "at by"},
           {"severity": "warning", "pos": {"line": w.proof_line - 1, "column": 8},
            "endPos": {"line": w.proof_line - 1, "column": 9}, "data": "on the statement"}]  # fmt: skip
    m0, m1, m2 = to_messages(w, raw)
    assert (m0.line, m0.col, m0.end_line, m0.end_col) == (3, 2, 3, 7)
    assert (m1.line, m1.col, m1.end_col) == (1, 0, 2)
    assert m2.line <= 0


def test_example_statements_get_a_name():
    w = wrap(Attempt(Problem("e", "example : 1 = 1 :="), "rfl"), 10)
    assert w.theorem == "leanfd_example" and "theorem leanfd_example : 1 = 1 :=\nrfl" in w.source


@pytest.mark.parametrize("stmt", ["theorem p : 1 = 1", "def p : Nat :=", "theorem p : 1 = 1 := by"])
def test_bad_statements_are_refused_with_a_reason(stmt):
    with pytest.raises(VerifyInputError, match="statement"):
        wrap(Attempt(Problem("p", stmt), "rfl"), 10)


def test_split_header():
    assert split_header("import Mathlib\nimport Aesop\n\nopen Real") == (("Mathlib", "Aesop"), "open Real")
    assert split_header("") == (("Init",), "")


def _w():
    return wrap(Attempt(P, "by simp"), 1000)


def _judge(**kw):
    w = _w()
    base = dict(commands=[w.theorem_line], theorem=True)
    base.update(kw)
    return judge(w, RawResult(**base))


def test_judge_proved():
    v = _judge(axioms=["propext"])
    assert v.ok and v.status == "proved" and v.axioms == ["propext"]


@pytest.mark.parametrize(
    "kw,status",
    [
        (dict(timed_out=True), "timeout"),
        (dict(crashed=True, crash_log="boom"), "crash"),
        (dict(commands=[4, 6]), "forbidden"),
        (dict(messages=[{"severity": "error", "pos": {"line": 3, "column": 0}, "data": "x"}]), "failed"),
        (dict(messages=[{"severity": "error", "pos": {"line": 3, "column": 0},
                         "data": "(deterministic) timeout at `whnf`, maximum number of heartbeats"}]), "timeout"),
        (dict(theorem=False), "failed"),
        (dict(axioms=["sorryAx"]), "sorry"),
        (dict(messages=[{"severity": "warning", "pos": {"line": 3, "column": 0}, "data": "declaration uses `sorry`"}]), "sorry"),
        (dict(axioms=["Lean.ofReduceBool"]), "axiom"),
        (dict(axioms=["my_axiom"]), "axiom"),
    ],
)  # fmt: skip
def test_judge_rejects(kw, status):
    if "commands" in kw:
        w = _w()
        kw["commands"] = [w.theorem_line, w.theorem_line + 1]
    v = _judge(**kw)
    assert not v.ok and v.status == status


def test_verdict_round_trip_and_consistency():
    v = _judge(axioms=["propext"])
    assert Verdict.from_dict(v.to_dict()) == v
    with pytest.raises(ValueError):
        Verdict(ok=True, status="failed")
    with pytest.raises(ValueError):
        Verdict(ok=False, status="nonsense")
