"""The one registry of Lean backends: what each can check, how it starts, how it is closed.

Every other module asks this registry (``get(name).local``, ``.supports_mathlib()``, …) and never
compares backend names itself; ``tests/test_backends.py`` holds the rest of the package to that.

- ``embedded``: the Lean toolchain leanfd downloads (core Lean only: Init, Std, Lean).
- ``native``: the user's Lean and ``lean_project/`` through ``lake env`` (Mathlib).
- ``http``: ``leanfd serve`` replicas listed in ``LEANFD_VERIFY_URLS``; each judges with its own backend.
- ``ray``: verify actors on a Ray cluster (``leanfd/lean/ray.py``), each a warm local verifier.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from leanfd.data.problem import Attempt
from leanfd.lean.types import Verdict


class RemoteClient(Protocol):
    """A backend that verifies elsewhere: a batch in, verdicts in input order out."""

    def verify(
        self,
        attempts: Sequence[Attempt],
        *,
        timeout_s: float,
        heartbeats: int,
        goals: bool,
        progress: bool,
        policy: str,
    ) -> list[Verdict]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backend:
    name: str
    summary: str
    #: Lean runs in this process (sessions, ``leanfd check``, the warm daemon, library queries).
    local: bool
    #: Whether it can check Mathlib problems (a remote backend asks its replicas).
    supports_mathlib: Callable[[], bool]
    #: Its library carries docstrings and definitions' bodies (the embedded build strips both).
    full_library: bool = False
    #: Local backends: start one warm session for an import set (closed with ``session.close()``).
    start_session: Callable[[tuple[str, ...]], object] | None = None
    #: Local backends: the command, environment and working directory that check one whole file.
    check_command: Callable[[Path], tuple[list[str], dict, Path]] | None = None
    #: Remote backends: a client for one verifier (closed with ``client.close()``).
    start_client: Callable[[], RemoteClient] | None = None


def _embedded_session(imports: tuple[str, ...]):
    from leanfd.lean.session import EmbeddedSession
    from leanfd.lean.verify import check_embedded_imports

    check_embedded_imports(imports)
    return EmbeddedSession(imports)


def _native_session(imports: tuple[str, ...]):
    from leanfd.lean.native import NativeSession

    return NativeSession(imports)


def _embedded_check(path: Path) -> tuple[list[str], dict, Path]:
    from leanfd.lean.toolchain import install_embedded

    tc = install_embedded()
    return tc.command("--json", str(path)), tc.env(path.parent), path.parent


def _native_check(path: Path) -> tuple[list[str], dict, Path]:
    from leanfd.lean.native import find_lake, project_dir

    # `lake env` puts lean_project/'s packages (Mathlib) on LEAN_PATH.
    return [find_lake(), "env", "lean", "--json", str(path)], dict(os.environ), project_dir()


def _http_mathlib() -> bool:
    from leanfd.lean.http import replicas_support_mathlib

    return replicas_support_mathlib()


class _HttpClient:
    """The replicas come from ``LEANFD_VERIFY_URLS``; a call opens and closes its own connections."""

    def verify(self, attempts, *, timeout_s, heartbeats, goals, progress, policy):
        from leanfd.lean.http import verify_batch_http

        return verify_batch_http(
            attempts,
            None,
            timeout_s=timeout_s,
            heartbeats=heartbeats,
            goals=goals,
            progress=progress,
            policy=policy,
        )

    def close(self) -> None:
        pass


def _ray_mathlib() -> bool:
    from leanfd.lean.ray import actors_support_mathlib

    return actors_support_mathlib()


def _ray_client() -> RemoteClient:
    from leanfd.lean.ray import RayClient

    return RayClient()


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend(
            "embedded",
            "the downloaded Lean toolchain, core only (Init, Std, Lean)",
            local=True,
            supports_mathlib=lambda: False,
            start_session=_embedded_session,
            check_command=_embedded_check,
        ),
        Backend(
            "native",
            "your Lean and lean_project/ (Mathlib) through lake env",
            local=True,
            supports_mathlib=lambda: True,
            full_library=True,
            start_session=_native_session,
            check_command=_native_check,
        ),
        Backend(
            "http",
            "leanfd serve replicas at LEANFD_VERIFY_URLS",
            local=False,
            supports_mathlib=_http_mathlib,
            full_library=True,
            start_client=_HttpClient,
        ),
        Backend(
            "ray",
            "verify actors on a Ray cluster (LEANFD_RAY_ADDRESS; extra ray)",
            local=False,
            supports_mathlib=_ray_mathlib,
            full_library=False,
            start_client=_ray_client,
        ),
    )
}


def resolve(name: str) -> str:
    """The backend ``name`` stands for: ``auto`` picks native when a native toolchain and
    lean_project/ are set up, else embedded."""
    if name != "auto" and name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; use auto, {', '.join(BACKENDS)}")
    if name != "auto":
        return name
    try:
        from leanfd.lean.native import native_available
    except ImportError:
        return "embedded"
    return "native" if native_available() else "embedded"


def get(name: str) -> Backend:
    """The registry entry for ``name`` (``auto`` resolved)."""
    return BACKENDS[resolve(name)]


def local_names() -> list[str]:
    return [n for n, b in BACKENDS.items() if b.local]
