"""Check a whole Lean file once (``leanfd check``): the file is the user's own, so no guard."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from leanfd.lean import backends
from leanfd.lean.types import LeanMessage
from leanfd.lean.verify import Verifier
from leanfd.syntax import file_imports


def check_file(path: Path, backend: str = "auto", timeout_s: float = 600.0) -> list[LeanMessage]:
    """Run Lean on ``path`` and return its messages (positions as in the file)."""
    path = Path(path).resolve()
    b = backends.get(backend)
    if b.check_command is None:
        raise ValueError(
            f"leanfd check runs Lean locally: use --backend {' or '.join(backends.local_names())}"
        )
    cmd, env, cwd = b.check_command(path)
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    return _parse(proc, path)


def leading_imports(text: str) -> tuple[tuple[str, ...], str]:
    """A file's imports (``Init`` if none), and the file with its import lines blanked (every
    position kept). The lexer reads the imports (:func:`leanfd.syntax.file_imports`, as the
    verifier does), so a commented-out ``import`` inside a nested ``/- -/`` is not one."""
    mods, spans = file_imports(text)
    for a, b in spans:
        text = text[:a] + " " * (b - a) + text[b:]
    return tuple(mods) or ("Init",), text


def check_text(verifier: Verifier, text: str, timeout_s: float = 600.0) -> list[LeanMessage]:
    """``check_file`` in one of ``verifier``'s warm sessions: the file's imports choose the session,
    so a warm daemon answers in well under a second instead of starting Lean."""
    imports, source = leading_imports(text)
    # The pool is the verifier's own (same package); the caller serialises requests.
    raw = verifier._pool(imports)[0].run(source, "", timeout_s)
    if raw.timed_out or raw.crashed:
        why = f"no answer within {timeout_s:g} s" if raw.timed_out else "Lean died: " + raw.crash_log[-500:]
        return [LeanMessage("error", 1, 0, 1, 0, f"leanfd check: {why}")]
    out = []
    for m in raw.messages:
        pos = m.get("pos") or {"line": 0, "column": 0}
        end = m.get("endPos") or pos
        sev, data = m.get("severity", "error"), m.get("data", "")
        out.append(LeanMessage(sev, pos["line"], pos["column"], end["line"], end["column"], data))
    return out


def _parse(proc: subprocess.CompletedProcess, path: Path) -> list[LeanMessage]:
    msgs = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        try:
            m = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "severity" not in m:
            continue
        pos = m.get("pos") or {"line": 0, "column": 0}
        end = m.get("endPos") or pos
        msgs.append(
            LeanMessage(
                m["severity"], pos["line"], pos["column"], end["line"], end["column"], m.get("data", "")
            )
        )
    if proc.returncode != 0 and not msgs:
        raise RuntimeError(f"Lean failed on {path} (exit {proc.returncode}): {proc.stderr[-1000:]}")
    return msgs
