"""Two `leanfd serve` replicas on loopback (subprocesses, random free ports) verify a batch with
the embedded Lean; the verdicts must equal the local pool's, in input order, even with a dead
replica in the URL list."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("fastapi", reason="the verify service needs the serve extra: pip install 'leanfd[serve]'")

from leanfd.data.problem import Attempt, Problem  # noqa: E402
from leanfd.lean import verify_batch  # noqa: E402
from leanfd.serve import verify_batch_http, wait_until_ready  # noqa: E402

pytestmark = [pytest.mark.lean, pytest.mark.slow]

ADD0 = Problem(name="add0", statement="theorem add0 (n : Nat) : n + 0 = n :=")
COMM = Problem(name="comm", statement="theorem comm (a b : Nat) : a + b = b + a :=")
LT = Problem(name="lt", statement="theorem lt : 3 < 5 :=")
ATTEMPTS = [
    Attempt(ADD0, "by simp"),  # proved
    Attempt(COMM, "by omega"),  # proved
    Attempt(COMM, "by rfl"),  # failed, with an error message
    Attempt(LT, "by decide"),  # proved
    Attempt(LT, "by sorry"),  # sorry
    Attempt(LT, "by native_decide"),  # forbidden by the guard before Lean sees it
    Attempt(ADD0, "by\n  intro h"),  # failed
    Attempt(COMM, "Nat.add_comm a b"),  # proved (term proof)
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key(v):
    return (v.ok, v.status, v.messages, v.axioms, v.reason)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    procs, urls = [], []
    logs = tmp_path_factory.mktemp("replicas")
    for i in range(2):
        port = _free_port()
        log = open(logs / f"replica{i}.log", "w")
        cmd = [sys.executable, "-m", "leanfd.cli", "serve", "--port", str(port), "--workers", "1"]
        cmd += ["--backend", "embedded", "--timeout-s", "60"]
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        wait_until_ready(urls, timeout_s=600)
        yield urls
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_two_replicas_match_local_pool(replicas, verifier):
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens here: its chunks go to the others
    remote = verify_batch_http(ATTEMPTS, [*replicas, dead], chunk_size=2, timeout_s=60.0, retries=2)
    local = verifier.verify(ATTEMPTS, timeout_s=60.0)  # the suite's shared warm local pool
    assert [v.status for v in local] == [
        "proved",
        "proved",
        "failed",
        "proved",
        "sorry",
        "forbidden",
        "failed",
        "proved",
    ]
    assert [_key(v) for v in remote] == [_key(v) for v in local]
    # the lead's entry point routes executor="http" to the same client
    again = verify_batch(ATTEMPTS[:3], executor="http", urls=replicas, timeout_s=60.0)
    assert [_key(v) for v in again] == [_key(v) for v in local[:3]]


def test_http_backend_reads_replicas_from_the_environment(replicas, verifier, monkeypatch):
    """``Verifier("http")`` (what ``--backend http`` gives eval and train) uses LEANFD_VERIFY_URLS."""
    from leanfd.lean import Verifier

    monkeypatch.setenv("LEANFD_VERIFY_URLS", ",".join(replicas))
    remote = Verifier("http").verify(ATTEMPTS[:4], timeout_s=60.0)
    local = verifier.verify(ATTEMPTS[:4], timeout_s=60.0)
    assert [_key(v) for v in remote] == [_key(v) for v in local]


TRAIN_ROWS = [
    {
        "name": "nine",
        "split": "valid",
        "statement": "theorem nine : 3 * 3 = 9 :=",
        "reference_proof": "by decide",
    },
    {
        "name": "refl",
        "split": "test",
        "statement": "theorem refl (n : Nat) : n ≤ n :=",
        "reference_proof": "Nat.le_refl n",
    },
    {"name": "four", "split": "test", "statement": "theorem four : 2 + 2 = 4 :=", "reference_proof": "rfl"},
]


def test_eval_and_train_run_on_the_http_backend(replicas, monkeypatch, tmp_path):
    """``leanfd eval --backend http`` and ``leanfd train --backend http`` end to end against two
    replicas: the Mathlib check asks the replicas what they can check (they run the embedded
    backend, so a Mathlib suite is refused before any model loads and a core suite runs)."""
    import json

    from leanfd.data import BackendUnsupportedError
    from leanfd.eval.evaluate import EvalConfig, evaluate
    from leanfd.models.testing import tiny_random_policy
    from leanfd.train.config import TrainConfig
    from leanfd.train.trainer import Trainer

    monkeypatch.setenv("LEANFD_VERIFY_URLS", ",".join(replicas))
    with pytest.raises(BackendUnsupportedError, match="needs Mathlib.*http backend has core Lean only"):
        evaluate(EvalConfig(out=tmp_path / "mathlib", suite="minif2f", n=1, ks=(1,), backend="http"))

    suite = tmp_path / "suite.jsonl"
    suite.write_text("".join(json.dumps(r) + "\n" for r in TRAIN_ROWS))
    policy = tiny_random_policy(0)
    cfg = EvalConfig(
        out=tmp_path / "eval",
        suite=str(suite),
        split="test",
        n=2,
        ks=(1, 2),
        max_new_tokens=8,
        backend="http",
        progress=False,
    )
    result = evaluate(cfg, policy=policy)
    assert result.summary["backend"].iloc[0] == "http"
    rows = [json.loads(line) for line in (tmp_path / "eval" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["verdict"]["status"] in ("failed", "forbidden", "proved") for r in rows)

    tcfg = TrainConfig(
        out=str(tmp_path / "run"),
        suite=str(suite),
        method="grpo",
        steps=1,
        problems_per_step=1,
        group_size=2,
        max_new_tokens=8,
        micro_batch_size=2,
        backend="http",
        evaluate=True,
        eval_n=1,
        eval_ks=[1],
        progress=False,
    )
    steps = Trainer(tcfg, policy=policy).run()
    assert len(steps) == 1
    evals = [
        json.loads(line) for line in (tmp_path / "run" / "eval" / "summary.jsonl").read_text().splitlines()
    ]
    assert [e["tag"] for e in evals] == ["before", "after"]
