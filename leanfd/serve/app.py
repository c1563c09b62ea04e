"""One verify replica: a FastAPI app that owns one warm :class:`leanfd.lean.Verifier`.

Endpoints:
- ``GET /health`` → ``{"ready": bool, "backend", "mathlib", "workers", "timeout_s", "heartbeats",
  "error"}``; ``ready`` turns true once the Verifier's Lean sessions are warm (≈45 s for the embedded
  backend). ``backend`` is the one the replica runs (``auto`` resolved) and ``mathlib`` whether it
  can check Mathlib problems: clients ask this instead of guessing from names.
- ``POST /verify`` with ``{"attempts": [{"problem": {...}, "proof": str}, ...], "timeout_s"?,
  "heartbeats"?, "goals"?}`` → ``{"verdicts": [Verdict.to_dict(), ...]}`` in input order (options
  default to the replica's own). A request that arrives before the replica is warm waits for it.
- ``POST /check`` with ``{"text": str, "timeout_s"?}`` → ``{"messages": [LeanMessage fields]}``: a
  whole file's messages, unguarded (``leanfd check``); only for the local daemon's private socket.

The Verifier is not shared between threads: requests are served one at a time under a lock, and
the Verifier's own worker pool runs a request's attempts in parallel. More throughput = more
replicas (or more ``--workers`` per replica), not more request threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from leanfd.lean.guard import POLICIES
from leanfd.lean.http import attempt_from_dict

#: Largest batch one request may carry; a client splits bigger batches into chunks.
MAX_ATTEMPTS_PER_REQUEST = 4096


class VerifyRequest(BaseModel):
    attempts: list[dict[str, Any]] = Field(description='[{"problem": {Problem fields}, "proof": str}, ...]')
    timeout_s: float | None = Field(
        None, gt=0, description="wall-clock limit per attempt (default: the replica's)"
    )
    heartbeats: int | None = Field(None, gt=0, description="Lean maxHeartbeats (default: the replica's)")
    goals: bool = Field(False, description="also return the goals before/after each tactic")
    policy: str | None = Field(None, description="verify policy preset, e.g. strict or published")


class CheckRequest(BaseModel):
    text: str = Field(description="a whole Lean file, checked as `leanfd check` does (no guard)")
    timeout_s: float = Field(600.0, gt=0, description="wall-clock limit")


class _Replica:
    """The warm Verifier, started in the background so the port answers /health at once."""

    def __init__(self, make_verifier: Callable[[], Any], config: dict[str, Any], warm: tuple[str, ...]):
        self.make_verifier = make_verifier
        self.warm = warm
        self.config = config
        self.verifier: Any = None
        self.ready = threading.Event()
        self.error: str = ""
        self.lock = threading.Lock()

    def start(self) -> None:
        try:
            v = self.make_verifier()
            v.__enter__()
            # Start the Lean sessions now rather than on the first request.
            for imports in [self.warm] if self.warm and isinstance(self.warm[0], str) else self.warm:
                v.warm_up(tuple(imports))
            self.verifier = v
        except Exception as e:  # reported by /health and /verify; the process stays up to say so
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.ready.set()

    def check(self, text: str, timeout_s: float) -> list[dict]:
        from leanfd.lean.check import check_text

        self.ready.wait()
        if self.verifier is None:
            raise HTTPException(503, f"this replica's verifier failed to start: {self.error}")
        with self.lock:
            return [asdict(m) for m in check_text(self.verifier, text, timeout_s)]

    def stop(self) -> None:
        if self.verifier is not None:
            self.verifier.__exit__(None, None, None)
            self.verifier = None

    def verify(self, attempts: list, **options: Any) -> list[dict]:
        self.ready.wait()
        if self.verifier is None:
            raise HTTPException(503, f"this replica's verifier failed to start: {self.error}")
        with self.lock:
            verdicts = self.verifier.verify(attempts, **options)
        return [v.to_dict() for v in verdicts]


def create_app(
    make_verifier: Callable[[], Any],
    config: dict[str, Any],
    warm: tuple[str, ...] | Sequence[tuple[str, ...]] = (),
    *,
    allow_check: bool = False,
) -> FastAPI:
    """An app around the Verifier that ``make_verifier()`` returns (entered once, on start-up,
    and warmed up for the header imports ``warm``, e.g. ``("Mathlib", "Aesop")``).

    ``config`` (the replica's ``backend``, ``workers``, ``timeout_s``, ``heartbeats``) is what
    /health reports. ``allow_check`` adds ``POST /check``, which runs files without the guard: only
    the local daemon, behind its private socket, turns it on, never a replica on the network.
    """
    replica = _Replica(make_verifier, config, warm)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        t = threading.Thread(target=replica.start, name="leanfd-verifier-start", daemon=True)
        t.start()
        yield
        # Not waiting for a warm-up still in progress: its Lean processes die with this process.
        await run_in_threadpool(replica.stop)

    app = FastAPI(title="leanfd verify replica", lifespan=lifespan)

    @app.get("/health")
    def health() -> dict:
        v = replica.verifier
        known = {"backend": v.backend, "mathlib": v.supports_mathlib} if v is not None else {}
        return {"ready": replica.ready.is_set() and v is not None, "error": replica.error, **config, **known}

    @app.post("/verify")
    def verify(req: VerifyRequest) -> dict:  # sync: FastAPI runs it in its thread pool
        if len(req.attempts) > MAX_ATTEMPTS_PER_REQUEST:
            raise HTTPException(
                413, f"{len(req.attempts)} attempts in one request; send at most {MAX_ATTEMPTS_PER_REQUEST}"
            )
        try:
            attempts = [attempt_from_dict(a) for a in req.attempts]
        except (KeyError, TypeError, ValueError) as e:
            raise HTTPException(422, f"malformed attempt: {e!r}") from e
        if req.policy is not None and req.policy not in POLICIES:
            raise HTTPException(422, f"unknown policy {req.policy!r}; use one of {', '.join(POLICIES)}")
        options = {
            "timeout_s": req.timeout_s,
            "heartbeats": req.heartbeats,
            "goals": req.goals,
            "policy": req.policy,
        }
        return {"verdicts": replica.verify(attempts, **options)}

    if allow_check:

        @app.post("/check")
        def check(req: CheckRequest) -> dict:
            try:
                return {"messages": replica.check(req.text, req.timeout_s)}
            except ValueError as e:  # VerifyInputError: imports the backend lacks
                raise HTTPException(422, str(e)) from e

    return app


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    backend: str = "auto",
    timeout_s: float = 30.0,
    heartbeats: int = 200_000,
    warm: tuple[str, ...] = ("Init",),
) -> None:
    """Run one replica until interrupted (what ``leanfd serve`` does)."""
    import uvicorn

    from leanfd.lean import Verifier

    config = {"backend": backend, "workers": workers, "timeout_s": timeout_s, "heartbeats": heartbeats}

    def make_verifier():
        return Verifier(backend=backend, workers=workers, timeout_s=timeout_s, heartbeats=heartbeats)

    uvicorn.run(create_app(make_verifier, config, warm), host=host, port=port, log_level="info")
