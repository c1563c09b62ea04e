"""The native Lean backend's setup: elan, Lake and Mathlib in ``lean_project/``.

``setup_native()`` is what ``leanfd setup --native`` runs. Every step shells out to the real tools
(elan, lake); a missing tool or an unreachable network becomes a :class:`NativeSetupError` that
says what to install or which host must be reachable, never a bare traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

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
