"""NativeSession: the native backend's sessions (command line, full axiom audit, per-attempt
timeout with restart, memory cap with kill and recycling).

Unit tests replay recorded output of the real session program (tests/fixtures/session_recorded.json,
from the embedded Lean) through a stand-in `lake`, so everything but Lean itself runs here. The
integration test at the end needs a native toolchain with lean_project/ set up and is skipped
otherwise.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pytest

from leanfd.data.problem import Attempt, Problem
from leanfd.lean import Verifier
from leanfd.lean.native import NativeSession, native_available

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORDED = json.loads((FIXTURES / "session_recorded.json").read_text())
CASES = [Attempt(Problem(**r["problem"]), r.get("proof"), r.get("file")) for r in RECORDED["requests"]]
LT = Problem(name="lt", statement="theorem lt : 3 < 5 :=")


@pytest.fixture
def replay_lake(tmp_path, monkeypatch):
    """A `lake` that replays the recording, and a Lake project for it to be pointed at."""
    project = tmp_path / "lean_project"
    project.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "lean_project" / "lean-toolchain", project)
    lake = tmp_path / "bin" / "lake"
    lake.parent.mkdir()
    lake.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FIXTURES / "replay_lake.py"}" "$@"\n')
    lake.chmod(lake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("LEANFD_LAKE", str(lake))
    monkeypatch.setenv("LEANFD_LEAN_PROJECT", str(project))
    monkeypatch.setenv("LEANFD_REPLAY", str(FIXTURES / "session_recorded.json"))
    return lake


def test_recording_matches_the_current_wrapper():
    from leanfd.lean.verify import wrap

    stale = [
        r.get("proof") or r["file"]
        for r, a in zip(RECORDED["requests"], CASES, strict=True)
        if wrap(a, 200_000).source != r["source"] or wrap(a, 200_000).reference != r.get("reference")
    ]
    assert not stale, "the verifier wraps attempts differently now: rerun tests/fixtures/record_session.py"


def test_recorded_outputs_judge_like_the_embedded_backend(replay_lake):
    with Verifier(backend="native", workers=1, timeout_s=20) as v:
        verdicts = v.verify(CASES)
    # native_decide never reaches Lean: the guard refuses it first, on every backend. Then three
    # whole files: a helper used by the theorem, a changed statement, a helper with sorry.
    statuses = ["proved", "failed", "sorry", "forbidden", "proved", "proved", "forbidden", "sorry"]
    assert [x.status for x in verdicts] == statuses
    assert "file:    ∀ (a b : Nat), a = b → a + b = b + a" in verdicts[6].reason
    failed = verdicts[1]
    assert failed.errors[0].text.startswith("Tactic `rfl` failed")
    assert (failed.errors[0].line, failed.errors[0].col) == (1, 3)  # `rfl` in "by rfl", proof-relative


def test_axiom_audit_of_a_recorded_request(replay_lake):
    """Past the guard, the audit still catches Lean.ofReduceBool (recorded from a real run)."""
    from leanfd.lean.verify import judge, wrap

    rec = RECORDED["requests"][3]
    w = wrap(CASES[3], 200_000)
    assert w.source == rec["source"]
    with NativeSession(("Init",)) as s:
        raw = s.run(w.source, w.theorem, timeout_s=20.0)
    v = judge(w, raw)
    assert v.status == "axiom" and v.axioms == ["Lean.ofReduceBool"]


def test_stuck_attempt_times_out_and_the_worker_is_replaced(replay_lake):
    s = NativeSession(("Init",))
    try:
        hang = s.run("theorem lt : 3 < 5 := by\n  -- leanfd-test: hang\n  decide\n", "lt", timeout_s=2.0)
        assert hang.timed_out and not s.alive  # killed, not left running
        rec = RECORDED["requests"][0]
        ok = s.run(rec["source"], rec["theorem"], timeout_s=20.0)
        assert ok.theorem and not ok.timed_out and s.starts == 2
    finally:
        s.close()


def test_memory_cap_kills_the_worker_and_says_why(replay_lake):
    s = NativeSession(("Init",), memory_limit_mb=150, poll_s=0.05)
    try:
        res = s.run("theorem lt : 3 < 5 := by\n  -- leanfd-test: grow\n  decide\n", "lt", timeout_s=30.0)
        assert res.crashed and not res.timed_out
        assert "MiB cap" in res.crash_log and s.memory_kills == 1
    finally:
        s.close()


def test_memory_above_recycle_threshold_restarts_between_requests(replay_lake):
    rec = RECORDED["requests"][4]
    s = NativeSession(("Init",), recycle_mb=1)  # any live process is above 1 MiB
    try:
        for _ in range(3):
            assert s.run(rec["source"], rec["theorem"], timeout_s=20.0).theorem
        assert s.recycles == 2 and s.starts == 3
    finally:
        s.close()


@pytest.mark.lean
@pytest.mark.slow
@pytest.mark.skipif(
    not native_available(),
    reason="no native Lean: needs elan/lake and `leanfd setup --native` (Mathlib in lean_project/), "
    "which need GitHub access this machine does not have",
)
def test_native_mathlib_end_to_end():
    header = "import Mathlib\nimport Aesop\n\nopen BigOperators Real Nat"
    p = Problem(name="sq", statement="theorem sq (x : ℝ) : 0 ≤ x ^ 2 :=", header=header)
    with Verifier(backend="native", workers=1, timeout_s=120) as v:
        good, bad, trust = v.verify(
            [Attempt(p, "by positivity"), Attempt(p, "by simp"), Attempt(p, "by sorry")]
        )
    assert good.status == "proved" and set(good.axioms) <= {"propext", "Classical.choice", "Quot.sound"}
    assert bad.status in ("failed", "proved")
    assert trust.status == "sorry"
