"""The verify service's wire format and failure paths, on real HTTP over loopback, without Lean.

The success path (real Lean behind two replicas, identical verdicts to the local pool) is in
test_serve_cluster.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager

import pytest

pytest.importorskip("fastapi", reason="the verify service needs the serve extra: pip install 'leanfd[serve]'")
import uvicorn  # noqa: E402

from leanfd.data.problem import Attempt, Problem  # noqa: E402
from leanfd.lean.http import attempt_from_dict, attempt_to_dict  # noqa: E402
from leanfd.lean.toolchain import ToolchainError  # noqa: E402
from leanfd.lean.types import Verdict  # noqa: E402
from leanfd.serve import VerifyServiceError, verify_batch_http, wait_until_ready  # noqa: E402
from leanfd.serve.app import create_app  # noqa: E402

CONFIG = {"backend": "embedded", "workers": 1, "timeout_s": 30.0, "heartbeats": 200_000}
P = Problem(name="t", statement="theorem t (n : Nat) : n + 0 = n :=", header="", split="test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def replica(make_verifier):
    """A real replica (uvicorn on loopback) around the verifier ``make_verifier()`` returns."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(make_verifier, CONFIG), port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 20 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(timeout=10)


@pytest.fixture
def broken_replica():
    """A real replica whose verifier cannot start (as when Lean is missing on that machine)."""

    def make_verifier():
        raise ToolchainError("no Lean toolchain on this replica")

    with replica(make_verifier) as url:
        yield url


class RecordingVerifier:
    """Stands in for the replica's Verifier without Lean: keeps the attempts it is given and
    answers each with a ``failed`` verdict whose reason says which kind it was."""

    backend = "embedded"
    supports_mathlib = False

    def __init__(self) -> None:
        self.seen: list[Attempt] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def warm_up(self, imports=("Init",)) -> None:
        pass

    def verify(self, attempts, **options):
        self.seen += attempts
        return [Verdict(False, "failed", reason="file" if a.file is not None else "proof") for a in attempts]


FILE = "theorem helper (n : Nat) : n + 0 = n := rfl\n\ntheorem t (n : Nat) : n + 0 = n := helper n\n"


def test_attempt_round_trips_through_json():
    a = Attempt(P, "by\n  simp")
    assert attempt_from_dict(attempt_to_dict(a)) == a
    with pytest.raises(ValueError, match="unknown problem field"):
        attempt_from_dict({"problem": {**attempt_to_dict(a)["problem"], "bogus": 1}, "proof": "x"})


def test_file_attempt_round_trips_through_json():
    a = Attempt(P, file=FILE)
    wire = attempt_to_dict(a)
    assert set(wire) == {"problem", "file"}  # no "proof": null beside it
    back = attempt_from_dict(json.loads(json.dumps(wire)))
    assert back == a and back.proof is None and back.file == FILE


@pytest.mark.parametrize(("proof", "file", "given"), [("rfl", FILE, "both"), (None, None, "neither")])
def test_attempt_needs_exactly_one_of_proof_and_file(proof, file, given):
    with pytest.raises(ValueError, match=rf"attempt at 't': give exactly one of proof=.*got {given}"):
        Attempt(P, proof, file)
    row = {"problem": attempt_to_dict(Attempt(P, "rfl"))["problem"], "proof": proof, "file": file}
    with pytest.raises(ValueError, match=f"got {given}"):
        attempt_from_dict(row)


def test_file_attempts_cross_the_http_wire():
    """Through a real replica: the verifier behind it gets the same attempts, files and proofs, in
    order, and a row with both or neither is refused as malformed."""
    import httpx

    seen = RecordingVerifier()
    attempts = [Attempt(P, file=FILE), Attempt(P, "by simp"), Attempt(P, file="-- crlf\r\n" + FILE)]
    with replica(lambda: seen) as url:
        verdicts = verify_batch_http(attempts, [url], chunk_size=2)
        bad = {"problem": attempt_to_dict(attempts[0])["problem"], "proof": "rfl", "file": FILE}
        r = httpx.post(url + "/verify", json={"attempts": [bad]})
    assert seen.seen == attempts
    assert [v.reason for v in verdicts] == ["file", "proof", "file"]
    assert r.status_code == 422 and "exactly one of proof=" in r.json()["detail"]


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
