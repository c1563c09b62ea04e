"""The native Lean backend: setting up elan, Lake and Mathlib in ``lean_project/``, and
:class:`NativeSession`, the session program run by a native ``lean`` with a memory cap.

``setup_native()`` is what ``leanfd setup --native`` runs. Every step shells out to the real tools
(elan, lake); a missing tool or an unreachable network becomes a :class:`NativeSetupError` that
says what to install or which host must be reachable, never a bare traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from leanfd.lean.session import LeanSession, RawResult
from leanfd.lean.toolchain import ToolchainError

ELAN_INSTALL = (
    "curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf "
    '| sh -s -- -y --default-toolchain none && source "$HOME/.elan/env"'
)

# Phrases git, curl and Lake print when the network is the problem (checked case-insensitively).
_OFFLINE_PATTERNS = re.compile(
    r"could not resolve host|temporary failure in name resolution|failed to connect|"
    r"connection (refused|timed out|reset)|network is unreachable|unable to access|"
    r"couldn't connect|could not connect|no route to host|ssl_connect|name or service not known",
    re.IGNORECASE,
)


class NativeSetupError(ToolchainError):
    """Setting up the native Lean project failed; the message says what to do."""


def project_dir() -> Path:
    """The Lake project the native backend runs in: ``$LEANFD_LEAN_PROJECT``, else the repository's
    ``lean_project/`` (next to the ``leanfd`` package in a source checkout or a Docker image)."""
    env = os.environ.get("LEANFD_LEAN_PROJECT")
    if env:
        p = Path(env).expanduser().resolve()
        if not (p / "lean-toolchain").is_file():
            raise NativeSetupError(
                f"LEANFD_LEAN_PROJECT={p} is not a Lake project (no lean-toolchain file there); "
                f"point it at leanfd's lean_project/ or a copy of it"
            )
        return p
    p = Path(__file__).resolve().parents[2] / "lean_project"
    if not (p / "lean-toolchain").is_file():
        raise NativeSetupError(
            f"cannot find leanfd's lean_project/ (looked in {p}). It ships with the source "
            f"repository, not the wheel: clone the repository, or set LEANFD_LEAN_PROJECT to a copy "
            f"of lean_project/"
        )
    return p


def pinned_toolchain(project: Path) -> str:
    """The toolchain named in ``project/lean-toolchain``, e.g. ``leanprover/lean4:v4.28.0``."""
    return (project / "lean-toolchain").read_text().strip()


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    """Run ``cmd`` streaming its output; on failure raise an error that says whether the network
    was the cause (the usual one on machines without GitHub access)."""
    print(f"[leanfd setup --native] {what}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    tail: deque[str] = deque(maxlen=30)
    try:
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
    except OSError as e:
        raise NativeSetupError(f"could not run {cmd[0]!r} ({what}): {e}") from e
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stderr.write(line)
        tail.append(line.rstrip("\n"))
    rc = proc.wait()
    if rc == 0:
        return
    output = "\n".join(tail)
    if _OFFLINE_PATTERNS.search(output):
        raise NativeSetupError(
            f"{what} failed: the network is unreachable (`{' '.join(cmd)}` in {cwd} exited {rc}).\n"
            f"The native backend needs internet once: github.com (Lean toolchain, Mathlib sources) "
            f"and Mathlib's olean cache. Run `leanfd setup --native` on a connected machine or use "
            f"the verifier Docker image (docker/README.md); the embedded backend works offline.\n"
            f"Last output:\n{output}"
        )
    raise NativeSetupError(f"{what} failed: `{' '.join(cmd)}` in {cwd} exited {rc}.\nLast output:\n{output}")


def setup_native(project: Path | None = None, *, build: bool = True) -> Path:
    """Install the pinned toolchain and Mathlib's prebuilt oleans into ``project`` (default
    :func:`project_dir`) and build it. Idempotent: each step is a no-op when already done.

    Steps: ``elan toolchain install <lean-toolchain>``; ``lake update`` if ``lake-manifest.json``
    is missing; ``lake exe cache get``; ``lake build`` (skipped with ``build=False``).
    Returns the project directory.
    """
    project = Path(project).resolve() if project else project_dir()
    toolchain = pinned_toolchain(project)
    elan = shutil.which("elan")
    lake = shutil.which("lake")
    if elan is None and lake is None:
        raise NativeSetupError(
            "neither `elan` nor `lake` is on PATH. Install elan (the Lean toolchain manager), then "
            f"rerun `leanfd setup --native`:\n  {ELAN_INSTALL}\n"
            "(Debian/Ubuntu also package it: `apt-get install elan`.)"
        )
    if elan is not None:
        _run([elan, "toolchain", "install", toolchain], project, f"installing Lean {toolchain}")
        lake = lake or str(Path(elan).parent / "lake")
    assert lake is not None
    if not (project / "lake-manifest.json").exists():
        _run([lake, "update"], project, "resolving Mathlib (writes lake-manifest.json)")
    _run([lake, "exe", "cache", "get"], project, "downloading Mathlib's prebuilt oleans")
    if build:
        _run([lake, "build"], project, "building the project (checks `import Mathlib`)")
    print(f"[leanfd setup --native] native Lean + Mathlib ready in {project}", file=sys.stderr)
    return project


# --------------------------------------------------------------------------------------------------
# Native sessions: the lead's session program under `lake env lean --run`, with a memory cap.

#: Per-worker memory cap (resident set of the Lean process tree), MiB. `import Mathlib` alone maps
#: ~5 GB of .olean files, of which a typical session touches 1.5-3 GB.
DEFAULT_MEMORY_LIMIT_MB = int(os.environ.get("LEANFD_NATIVE_MEMORY_MB", "8192"))


def find_lake() -> str:
    """The ``lake`` to run: ``$LEANFD_LAKE``, else ``lake`` on PATH, else elan's default place."""
    for cand in (os.environ.get("LEANFD_LAKE"), shutil.which("lake"), str(Path.home() / ".elan/bin/lake")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    raise NativeSetupError(
        "no `lake` found (looked at $LEANFD_LAKE, PATH and ~/.elan/bin). The native backend needs "
        f"elan and a set-up lean_project/: install elan ({ELAN_INSTALL}), then `leanfd setup --native`"
    )


def native_available() -> bool:
    """True when a ``lake`` exists and lean_project/ has Mathlib built (what ``auto`` checks).
    Never raises: any doubt means the embedded backend is used."""
    try:
        find_lake()
        project = project_dir()
    except ToolchainError:
        return False
    return (project / ".lake/packages/mathlib/.lake/build/lib/lean/Mathlib.olean").exists() or (
        project / ".lake/packages/mathlib/.lake/build/lib/Mathlib.olean"
    ).exists()


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (lake runs lean as a child), MiB."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


class NativeSession(LeanSession):
    """The session program run by a native Lean from ``lean_project/`` (``lake env lean --run``).

    Same protocol, guard and judge as the embedded backend; differences:

    - start-up is seconds, not ~45 s, and ``import Mathlib`` works;
    - a memory cap: a watchdog thread sums the resident memory of the Lean process tree every
      ``poll_s`` and kills it past ``memory_limit_mb`` (the request in flight becomes a ``crash``
      verdict whose reason says so); between requests a session above ``recycle_mb`` is restarted
      before it takes the next one. We watch RSS with psutil rather than set RLIMIT_AS because
      Lean maps every imported .olean file (~5 GB for Mathlib) and reserves address space up
      front, so an address-space limit either kills healthy sessions or caps nothing;
    - the full axiom whitelist: ``LEANFD_ALL_AXIOMS=1`` asks the session program to report every
      axiom a proof depends on (native oleans carry proof bodies), so the judge rejects anything
      outside propext / Classical.choice / Quot.sound.

    Per-attempt wall-clock timeouts, killing a stuck process group and starting a fresh one on the
    next request are :class:`LeanSession`'s.
    """

    def __init__(
        self,
        imports: tuple[str, ...] = ("Init",),
        max_requests: int = 2000,
        *,
        project: Path | None = None,
        memory_limit_mb: float | None = None,
        recycle_mb: float | None = None,
        poll_s: float = 0.5,
    ) -> None:
        super().__init__(imports, max_requests)
        self.project = Path(project).resolve() if project else project_dir()
        self.lake = find_lake()
        self.memory_limit_mb = memory_limit_mb or DEFAULT_MEMORY_LIMIT_MB
        self.recycle_mb = recycle_mb or 0.75 * self.memory_limit_mb
        self.poll_s = poll_s
        self.memory_kills = 0
        self.recycles = 0
        self._memory_kill = ""  # set by the watchdog when it kills the process for memory

    def command(self, server: Path, args: list[str]) -> list[str]:
        return [self.lake, "-d", str(self.project), "env", "lean", "--run", str(server), *args]

    def environment(self, workdir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["LEANFD_ALL_AXIOMS"] = "1"
        return env

    def start(self) -> float:
        took = super().start()
        proc = self._proc
        assert proc is not None
        threading.Thread(target=self._watch, args=(proc,), daemon=True, name="leanfd-native-mem").start()
        return took

    def _watch(self, proc: subprocess.Popen) -> None:
        while proc.poll() is None:
            rss = _tree_rss_mb(proc.pid)
            if rss > self.memory_limit_mb:
                self._memory_kill = (
                    f"leanfd killed the Lean session: {rss:.0f} MiB resident exceeds the "
                    f"{self.memory_limit_mb:.0f} MiB cap (LEANFD_NATIVE_MEMORY_MB)"
                )
                self.memory_kills += 1
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return
            time.sleep(self.poll_s)

    def rss_mb(self) -> float:
        return _tree_rss_mb(self._proc.pid) if self.alive and self._proc else 0.0

    def run(
        self, source: str, theorem: str, timeout_s: float, goals: bool = False, reference: str | None = None
    ) -> RawResult:
        if self.alive and self.rss_mb() > self.recycle_mb:
            self.recycles += 1
            self.close()  # LeanSession.run starts a fresh process
        self._memory_kill = ""
        res = super().run(source, theorem, timeout_s, goals=goals, reference=reference)
        if self._memory_kill:
            # The kill shows up as EOF, possibly before the process is reaped (then LeanSession
            # calls it a timeout): it is a crash, and the reason is ours.
            res.timed_out, res.crashed = False, True
            res.crash_log = (res.crash_log + "\n" + self._memory_kill).strip()
            self._memory_kill = ""
        return res
