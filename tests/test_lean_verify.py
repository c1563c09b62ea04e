"""The verifier with the real embedded Lean: verdicts of every kind, isolation, timeouts, crashes,
positions, goals, and the CLI round trip."""

import json
import os
import threading
import time

import pytest

from leanfd.data.problem import Attempt, Problem
from leanfd.lean import verify_batch
from leanfd.lean.session import EmbeddedSession

pytestmark = pytest.mark.lean

LT = Problem("lt", "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :=")
ODD = Problem("odd_sq", "theorem odd_sq (n : Nat) (h : n % 2 = 1) : n * n % 2 = 1 :=")

# Minutes of kernel reduction on 2 cores (no allocation-heavy elaboration, so no heartbeat stop).
SLOW = Problem("slow", "theorem slow : ∀ x < 300, ∀ y < 300, x * y ≠ 9999991 :=")

CASES = {
    # name: (problem, proof, expected status)
    "omega": (LT, "by omega", "proved"),
    "term": (LT, "Nat.succ_le_of_lt h", "proved"),
    "multi_step": (
        ODD,
        "by\n  have h2 : n * n % 2 = (n % 2) * (n % 2) % 2 := Nat.mul_mod n n 2\n  rw [h2, h]",
        "proved",
    ),
    "wrong_tactic": (LT, "by\n  intro x\n  omega", "failed"),
    "unknown_lemma": (LT, "by exact Nat.no_such_lemma h", "failed"),
    "unsolved": (LT, "by\n  skip", "failed"),
    "sorry": (LT, "by sorry", "sorry"),
    "admit": (LT, "by admit", "sorry"),
    "sorry_in_have": (ODD, "by\n  have : n * n % 2 = 1 := sorry\n  exact this", "sorry"),
    "native_decide": (LT, "by native_decide", "forbidden"),
    "second_decl": (LT, "by omega\ntheorem lt2 : False := sorry", "forbidden"),
    "eval": (LT, 'by omega\n#eval IO.FS.writeFile "leanfd_pwned.txt" "x"', "forbidden"),
    "parse_error": (LT, "by omega )", "failed"),
    "empty": (LT, "", "failed"),
}


@pytest.fixture(scope="module")
def verdicts(verifier):
    attempts = [Attempt(p, proof) for p, proof, _ in CASES.values()]
    return dict(zip(CASES, verifier.verify(attempts), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_verdict_status(verdicts, name):
    v = verdicts[name]
    assert v.status == CASES[name][2], (v.status, v.reason, v.messages)
    assert v.ok == (v.status == "proved")


def test_failed_verdicts_carry_positioned_messages(verdicts):
    (m,) = [m for m in verdicts["wrong_tactic"].errors]
    assert (m.line, m.col) == (2, 8) and "intro" in m.text  # at `x` of `intro x`, the 2nd line
    (m,) = verdicts["unknown_lemma"].errors
    assert m.line == 1 and m.col == len("by exact ")
    (m,) = verdicts["unsolved"].errors
    assert "unsolved goals" in m.text and "⊢ a + 1 ≤ b" in m.text


def test_nothing_reaches_the_host(verdicts, tmp_path):
    assert verdicts["eval"].status == "forbidden"
    assert not any(p.name == "leanfd_pwned.txt" for p in tmp_path.parent.rglob("leanfd_pwned.txt"))


def test_header_axiom_is_caught_by_the_audit(verifier):
    # The guard never lets a proof declare an axiom; a (trusted) header can, and the audit still
    # refuses a proof that depends on it.
    p = Problem("ax", "theorem ax : 1 = 2 :=", header="axiom cheat : 1 = 2")
    (v,) = verifier.verify([Attempt(p, "cheat")])
    assert v.status == "axiom" and "cheat" in v.reason


def test_session_audit_flags_native_decide_when_the_guard_is_bypassed(verifier):
    from leanfd.lean.verify import judge, wrap

    w = wrap(Attempt(LT, "by native_decide"), 200_000)  # wrap does not screen
    session = verifier._pool(("Init",))[0]
    raw = session.run(w.source.replace("(a b : Nat) (h : a < b) : a + 1 ≤ b", ": 2 + 2 = 4"), w.theorem, 60)
    v = judge(w, raw)
    assert v.status == "axiom" and "Lean.ofReduceBool" in v.axioms


def test_requests_are_isolated(verifier):
    """A macro or option from one request is invisible to the next on the same session."""
    session = verifier._pool(("Init",))[0]
    r1 = session.run('macro "cheat" : tactic => `(tactic| sorry)\ntheorem a : 1 = 2 := by cheat\n', "a", 60)
    assert r1.theorem and "sorryAx" in r1.axioms
    r2 = session.run("theorem b : 1 = 2 := by cheat\n", "b", 60)
    assert any("cheat" in m["data"] or "unknown tactic" in m["data"].lower() or "unexpected" in m["data"]
               for m in r2.messages if m["severity"] == "error")  # fmt: skip
    r3 = session.run("def secret : Nat := 1\ntheorem c : secret = 1 := rfl\n", "c", 60)
    assert r3.theorem
    r4 = session.run("theorem d : secret = 1 := rfl\n", "d", 60)
    # `secret` is unknown here (auto-bound as a variable), so `rfl` fails
    assert any(m["severity"] == "error" for m in r4.messages) and "sorryAx" in r4.axioms


def test_attempts_in_one_batch_do_not_influence_each_other(verifier):
    batch = [Attempt(LT, "by omega"), Attempt(LT, "by sorry"), Attempt(LT, "by omega")] * 3
    vs = verifier.verify(batch)
    assert [v.status for v in vs] == ["proved", "sorry", "proved"] * 3


def test_heartbeat_limit_gives_timeout(verifier):
    p = Problem("hb", "theorem hb : (List.range 2000).foldl (· + ·) 0 = 1999000 :=")
    (v,) = verifier.verify([Attempt(p, "by decide")], heartbeats=500)
    assert v.status == "timeout" and "heartbeat" in v.reason


@pytest.mark.slow
def test_wall_clock_timeout_costs_only_that_attempt(verifier):
    batch = [
        Attempt(LT, "by omega"),
        Attempt(SLOW, "by decide +kernel"),
        Attempt(LT, "by omega"),
        Attempt(LT, "by sorry"),
    ]
    vs = verifier.verify(batch, timeout_s=4.0, heartbeats=0)
    assert [v.status for v in vs] == ["proved", "timeout", "proved", "sorry"]
    assert vs[1].time_s < 10


@pytest.mark.slow
def test_crash_costs_only_that_attempt(lean_toolchain):
    with EmbeddedSession() as s:
        s.start()
        pid = s._proc.pid
        threading.Timer(1.0, lambda: os.kill(pid, 9)).start()
        r = s.run(f"set_option maxHeartbeats 0 in\n{SLOW.statement} by decide +kernel\n", "slow", 120)
        assert r.crashed and not r.timed_out
        r2 = s.run("theorem ok : 1 + 1 = 2 := rfl\n", "ok", 60)  # restarts transparently
        assert r2.theorem and not r2.messages and s.starts == 2


def test_goals_before_each_tactic(verifier):
    v, goals = verifier.goals(Attempt(LT, "by\n  have h2 : a + 1 ≤ b := by omega\n  exact h2"))
    assert v.ok
    exact = [g for g in goals if g["tactic"].endswith("exact")]
    assert exact and exact[0]["line"] == 3 and "h2 : a + 1 ≤ b" in exact[0]["before"]
    assert exact[0]["after"] == "no goals"


def test_verify_batch_shares_warm_sessions(verifier):
    t0 = time.perf_counter()
    (v,) = verify_batch([Attempt(LT, "by omega")], backend="embedded", workers=verifier.workers)
    assert v.ok and time.perf_counter() - t0 < 60  # no new start-up (a cold start takes longer)


def test_cli_verify_round_trip(verifier, tmp_path):
    from typer.testing import CliRunner

    from leanfd.cli import app

    inp = tmp_path / "in.jsonl"
    rows = [{"id": n, "statement": p.statement, "proof": proof} for n, (p, proof, _) in CASES.items()]
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(app, ["verify", str(inp), "-o", str(out), "--backend", "embedded",
                                   "--workers", str(verifier.workers)])  # fmt: skip
    assert res.exit_code == 0, res.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == list(CASES)
    assert [g["status"] for g in got] == [c[2] for c in CASES.values()]
    assert set(got[0]) >= {"id", "ok", "status", "messages", "time_s"}


def test_cli_verify_rejects_malformed_input_without_output(tmp_path):
    from typer.testing import CliRunner

    from leanfd.cli import app

    inp = tmp_path / "bad.jsonl"
    inp.write_text(
        '{"id": 1, "statement": "theorem t : 1 = 1 :=", "proof": "rfl"}\n{"id": 2, "proof": "rfl"}\n'
    )
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(app, ["verify", str(inp), "-o", str(out)])
    assert res.exit_code == 2 and "bad.jsonl:2" in res.output and "statement" in res.output
    assert not out.exists()
    inp.write_text("{not json\n")
    res = CliRunner().invoke(app, ["verify", str(inp), "-o", str(out)])
    assert res.exit_code == 2 and "bad.jsonl:1" in res.output and not out.exists()


@pytest.mark.slow
def test_cli_check_prints_file_diagnostics(tmp_path):
    from typer.testing import CliRunner

    from leanfd.cli import app

    f = tmp_path / "t.lean"
    f.write_text("theorem a : 2 + 2 = 4 := by decide\ntheorem b : 2 + 2 = 5 := by decide\n")
    res = CliRunner().invoke(app, ["check", str(f), "--backend", "embedded"])
    assert res.exit_code == 1
    assert "t.lean:2:" in res.output and "error" in res.output


def test_no_leftover_processes_or_files(lean_toolchain):
    s = EmbeddedSession()
    s.start()
    pid, workdir = s._proc.pid, s._workdir
    s.close()
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
