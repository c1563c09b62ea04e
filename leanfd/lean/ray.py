"""The Ray backend: verify workers as Ray actors, each holding a warm :class:`Verifier`.

For users whose trainer already runs on Ray (verl, OpenRLHF): ``Verifier(backend="ray")`` verifies
on their own cluster, with no service to deploy. Each actor is a ``Verifier`` of the actors'
backend (``embedded`` or ``native`` on its node) with ``workers`` Lean sessions, and asks Ray for as
many CPUs. A batch is cut into chunks; each actor has one chunk in flight and takes the next when it
is done, so a faster actor serves more; verdicts come back in input order.

An actor that dies (its node lost, killed, out of memory) costs only the attempts of the chunk it
was running: they get a ``crash`` verdict that says so, the actor leaves the pool, and the rest of
the batch goes to the others. The next call drops the dead actors and tops the pool up again. ``ray.util.ActorPool`` is not
used because it hands a dead actor back to the idle pool, so every later chunk given to it would
fail as well.

Settings (environment, since ``Verifier`` builds the client with no arguments):

- ``LEANFD_RAY_ADDRESS``: the cluster to join (``auto``, ``ray://…``); unset: the one this process
  already joined, else a local Ray instance.
- ``LEANFD_RAY_ACTORS`` (default 2) and ``LEANFD_RAY_WORKERS`` (Lean sessions per actor, default 1).
- ``LEANFD_RAY_BACKEND``: the actors' backend (default ``auto`` on their node).

``ray`` is an optional extra (``pip install 'leanfd[ray]'``).
"""

from __future__ import annotations

import math
import os

from leanfd.data.problem import Attempt
from leanfd.lean.types import Verdict


def _ray():
    try:
        import ray
    except ImportError:
        raise ImportError(
            "the ray backend needs Ray: pip install 'leanfd[ray]' (or pick --backend embedded, native or http)"
        ) from None
    return ray


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: give a positive integer") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r}: give a positive integer")
    return value


def _init(ray) -> None:
    if not ray.is_initialized():
        address = os.environ.get("LEANFD_RAY_ADDRESS") or None
        ray.init(address=address, include_dashboard=False, log_to_driver=False)


class _VerifyActor:
    """One warm verifier on a Ray worker (made a Ray actor class in :func:`_actor_class`)."""

    def __init__(self, backend: str, workers: int) -> None:
        from leanfd.lean.verify import Verifier

        self.verifier = Verifier(backend=backend, workers=workers)
        if not self.verifier._backend.local:
            raise ValueError(f"a Ray actor verifies with a local backend, not {self.verifier.backend!r}")

    def verify(self, attempts: list[Attempt], options: dict) -> list[Verdict]:
        return self.verifier.verify(attempts, **options)

    def supports_mathlib(self) -> bool:
        return self.verifier.supports_mathlib

    def ping(self) -> str:
        return self.verifier.backend

    def close(self) -> None:
        self.verifier.close()


_ACTOR = None


def _actor_class(ray):
    global _ACTOR
    if _ACTOR is None:
        _ACTOR = ray.remote(_VerifyActor)
    return _ACTOR


class RayClient:
    """A pool of verify actors on the Ray cluster; ``verify`` spreads a batch over them."""

    def __init__(self, actors: int | None = None, workers: int | None = None, backend: str | None = None):
        self.ray = _ray()
        self.size = actors or _env_int("LEANFD_RAY_ACTORS", 2)
        self.workers = workers or _env_int("LEANFD_RAY_WORKERS", 1)
        self.backend = backend or os.environ.get("LEANFD_RAY_BACKEND", "auto")
        _init(self.ray)
        self.actors: list = []
        self._fill()

    def _drop_dead(self) -> None:
        """Drop the actors that died since the last call (a ping each; an idle actor answers in ms)."""
        pings = {a.ping.remote(): a for a in self.actors}
        for ref, actor in pings.items():
            try:
                self.ray.get(ref, timeout=60)
            except (self.ray.exceptions.RayActorError, self.ray.exceptions.GetTimeoutError):
                self.actors.remove(actor)

    def _fill(self) -> None:
        cls = _actor_class(self.ray).options(num_cpus=self.workers)
        while len(self.actors) < self.size:
            self.actors.append(cls.remote(self.backend, self.workers))

    def supports_mathlib(self) -> bool:
        return bool(self.ray.get(self.actors[0].supports_mathlib.remote()))

    def verify(self, attempts, *, timeout_s, heartbeats, goals, progress, policy) -> list[Verdict]:
        from tqdm.auto import tqdm

        ray = self.ray
        self._drop_dead()
        self._fill()
        options = {"timeout_s": timeout_s, "heartbeats": heartbeats, "goals": goals, "policy": policy}
        size = max(self.workers, min(8 * self.workers, math.ceil(len(attempts) / (2 * len(self.actors)))))
        chunks = [list(range(i, min(i + size, len(attempts)))) for i in range(0, len(attempts), size)]
        verdicts: list[Verdict | None] = [None] * len(attempts)
        idle, running = list(self.actors), {}
        bar = tqdm(total=len(attempts), desc="verify (ray)", unit="attempt", disable=not progress)
        while chunks or running:
            while chunks and idle:
                actor, chunk = idle.pop(), chunks.pop(0)
                running[actor.verify.remote([attempts[i] for i in chunk], options)] = (actor, chunk)
            if not running:  # every actor died in this call
                raise RuntimeError(
                    f"every Ray verify actor died; {sum(map(len, chunks))} attempts not verified"
                )
            [ref], _ = ray.wait(list(running), num_returns=1)
            actor, chunk = running.pop(ref)
            try:
                got = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                self.actors.remove(actor)
                why = f"the Ray actor verifying this attempt died ({type(e).__name__}); its chunk is lost"
                got = [Verdict(False, "crash", reason=why, policy=policy) for _ in chunk]
            else:
                idle.append(actor)
            for i, v in zip(chunk, got, strict=True):
                verdicts[i] = v
            bar.update(len(chunk))
        bar.close()
        return verdicts  # type: ignore[return-value]

    def close(self) -> None:
        for a in self.actors:
            try:
                self.ray.get(a.close.remote(), timeout=30)
            except Exception:  # noqa: BLE001 - a dead actor has nothing left to close
                pass
            self.ray.kill(a)
        self.actors = []


def actors_support_mathlib() -> bool:
    """Whether the actors' backend checks Mathlib, asked on the cluster (where their Lean is)."""
    ray = _ray()
    _init(ray)
    backend = os.environ.get("LEANFD_RAY_BACKEND", "auto")

    @ray.remote(num_cpus=0)
    def ask(name: str) -> bool:
        from leanfd.lean import backends

        return backends.get(name).supports_mathlib()

    return bool(ray.get(ask.remote(backend)))
