"""The Ray backend on a local Ray instance: 2 actors of 1 Lean worker each give the same verdicts as
the local pool, keep input order, and a killed actor costs only the attempts it was running."""

from __future__ import annotations

import pytest

from leanfd.data.problem import Attempt, Problem

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.lean, pytest.mark.slow]

LT = Problem("lt", "theorem lt (a b : Nat) (h : a < b) : a + 1 ≤ b :=")
POW = Problem("pow", "theorem pow : 2 ^ 10 = 1024 :=")
PROOFS = [
    (LT, "by omega"),
    (LT, "by simp"),
    (POW, "by decide"),
    (POW, "by native_decide"),
    (LT, "by sorry"),
    (POW, "by norm_num"),
    (LT, "by exact Nat.succ_le_of_lt h"),
    (POW, "rfl"),
]


@pytest.fixture(scope="module")
def local_ray(lean_toolchain, monkeypatch_module):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    monkeypatch_module.setenv("LEANFD_RAY_ACTORS", "2")
    monkeypatch_module.setenv("LEANFD_RAY_WORKERS", "1")
    monkeypatch_module.setenv("LEANFD_RAY_BACKEND", "embedded")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _kill(actor) -> None:
    """Kill ``actor`` and wait until Ray reports it dead (``ray.kill`` is asynchronous)."""
    import time

    ray.kill(actor, no_restart=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ray.get(actor.ping.remote(), timeout=30)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.2)
    raise AssertionError("the killed actor still answers after 60 s")


def _key(v):
    return (v.status, v.policy, [m.text for m in v.errors])


def test_ray_actors_judge_like_the_local_pool_and_lose_only_a_dead_actors_attempts(local_ray, verifier):
    from leanfd.lean import Verifier

    attempts = [Attempt(p, proof) for p, proof in PROOFS]
    want = verifier.verify(attempts)
    with Verifier(backend="ray") as rv:
        assert rv.backend == "ray" and rv.supports_mathlib is False  # the actors run the embedded Lean
        got = rv.verify(attempts)
        assert [_key(v) for v in got] == [_key(v) for v in want]
        assert [v.status for v in got[:5]] == ["proved", "failed", "proved", "forbidden", "sorry"]

        client = rv._remote()
        assert len(client.actors) == 2
        _kill(client.actors[0])
        got = rv.verify(attempts * 2)  # the client refills its pool first: a new actor starts
        crashed = [i for i, v in enumerate(got) if v.status == "crash"]
        assert not crashed, "a fresh actor took the dead one's place"

        # an actor that dies during a call (here: killed after the call's health check, which the
        # test skips): only the chunk it held is lost, the other actor verifies the rest
        victim = client.actors[0]
        _kill(victim)
        client._drop_dead = client._fill = lambda: None
        client.actors.insert(0, client.actors.pop(client.actors.index(victim)))
        got = rv.verify(attempts * 2)
        crashed = [i for i, v in enumerate(got) if v.status == "crash"]
        assert 0 < len(crashed) < len(got)
        assert all("Ray actor verifying this attempt died" in got[i].reason for i in crashed)
        ok = [i for i in range(len(got)) if i not in crashed]
        assert [_key(got[i]) for i in ok] == [_key((want * 2)[i]) for i in ok]
        assert victim not in client.actors and len(client.actors) == 1
