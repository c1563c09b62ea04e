"""The verify service's wire format and failure paths, on real HTTP over loopback, without Lean.

The success path (real Lean behind two replicas, identical verdicts to the local pool) is in
test_serve_cluster.py.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the verify service needs the serve extra: pip install 'leanfd[serve]'")
import uvicorn  # noqa: E402

from leanfd.data.problem import Attempt, Problem  # noqa: E402
from leanfd.lean.http import attempt_from_dict, attempt_to_dict  # noqa: E402
from leanfd.lean.toolchain import ToolchainError  # noqa: E402
from leanfd.serve import VerifyServiceError, verify_batch_http, wait_until_ready  # noqa: E402
from leanfd.serve.app import create_app  # noqa: E402

CONFIG = {"backend": "embedded", "workers": 1, "timeout_s": 30.0, "heartbeats": 200_000}
P = Problem(name="t", statement="theorem t (n : Nat) : n + 0 = n :=", header="", split="test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broken_replica():
    """A real replica whose verifier cannot start (as when Lean is missing on that machine)."""

    def make_verifier():
        raise ToolchainError("no Lean toolchain on this replica")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(make_verifier, CONFIG), port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 20 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    t.join(timeout=10)


def test_attempt_round_trips_through_json():
    a = Attempt(P, "by\n  simp")
    assert attempt_from_dict(attempt_to_dict(a)) == a
    with pytest.raises(ValueError, match="unknown problem field"):
        attempt_from_dict({"problem": {**attempt_to_dict(a)["problem"], "bogus": 1}, "proof": "x"})


def test_bad_urls_are_refused():
    with pytest.raises(VerifyServiceError, match="non-empty list"):
        verify_batch_http([Attempt(P, "rfl")], "http://127.0.0.1:1")
    with pytest.raises(VerifyServiceError, match="non-empty list"):
        verify_batch_http([Attempt(P, "rfl")], [])
    assert verify_batch_http([], ["http://127.0.0.1:1"]) == []


def test_all_replicas_down_names_each_url():
    dead = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]
    t0 = time.monotonic()
    with pytest.raises(VerifyServiceError, match="every verify replica failed") as e:
        verify_batch_http([Attempt(P, "rfl")] * 3, dead, retries=2)
    assert all(u in str(e.value) for u in dead)
    assert "ConnectError" in str(e.value)
    assert time.monotonic() - t0 < 30


def test_replica_whose_verifier_failed_says_why(broken_replica):
    with pytest.raises(VerifyServiceError, match="no Lean toolchain on this replica"):
        wait_until_ready([broken_replica], timeout_s=20)
    with pytest.raises(VerifyServiceError, match="every verify replica failed") as e:
        verify_batch_http([Attempt(P, "rfl")], [broken_replica], retries=1)
    assert "503" in str(e.value)


def test_bad_option_fails_at_once_without_retries(broken_replica):
    t0 = time.monotonic()
    with pytest.raises(VerifyServiceError, match=r"refused the batch \(422\)"):
        verify_batch_http([Attempt(P, "rfl")], [broken_replica], timeout_s=-1.0, retries=5)
    assert time.monotonic() - t0 < 5  # no back-off: another try would get the same answer


def test_malformed_attempt_is_a_client_error(broken_replica):
    import httpx

    r = httpx.post(
        broken_replica + "/verify", json={"attempts": [{"problem": {"name": "x"}, "proof": "rfl"}]}
    )
    assert r.status_code == 422
    assert "malformed attempt" in r.json()["detail"]


def test_urls_from_env_and_dns_expansion(monkeypatch):
    from leanfd.serve import resolve_urls

    monkeypatch.setenv("LEANFD_VERIFY_URLS", "http://a:8000/, http://b:8001")
    assert resolve_urls() == ["http://a:8000", "http://b:8001"]
    # `dns+` stands for every IPv4 address behind the name (here just loopback).
    assert resolve_urls(["dns+http://localhost:8123"]) == ["http://127.0.0.1:8123"]
    monkeypatch.delenv("LEANFD_VERIFY_URLS")
    with pytest.raises(VerifyServiceError, match="LEANFD_VERIFY_URLS"):
        resolve_urls()
    with pytest.raises(VerifyServiceError, match="cannot resolve"):
        resolve_urls(["dns+http://no-such-host.invalid:8000"])
