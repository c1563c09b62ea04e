"""Check a whole Lean file once (``leanfd check``): the file is the user's own, so no guard."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from leanfd.lean.types import LeanMessage
from leanfd.lean.verify import resolve_backend


def check_file(path: Path, backend: str = "auto", timeout_s: float = 600.0) -> list[LeanMessage]:
    """Run Lean on ``path`` and return its messages (positions as in the file)."""
    path = Path(path).resolve()
    if resolve_backend(backend) == "embedded":
        from leanfd.lean.toolchain import install_embedded

        tc = install_embedded()
        cmd, env = tc.command("--json", str(path)), tc.env(path.parent)
    else:
        from leanfd.lean.native import native_check_command

        cmd, env = native_check_command(path)
    proc = subprocess.run(cmd, env=env, cwd=path.parent, capture_output=True, text=True, timeout=timeout_s)
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
        msgs.append(LeanMessage(m["severity"], pos["line"], pos["column"], end["line"], end["column"], m.get("data", "")))
    if proc.returncode != 0 and not msgs:
        raise RuntimeError(f"Lean failed on {path} (exit {proc.returncode}): {proc.stderr[-1000:]}")
    return msgs
