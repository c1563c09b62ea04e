"""Wall time of `leanfd verify` on one attempt: without the daemon (each call starts Lean), and with
it (the first call starts the daemon, the next ones reuse it). Target: a warm call <= 2 s.

    python benchmarks/daemon_latency.py [--calls 3] [--workers 1] [--skip-no-daemon]

Runs the real command line in subprocesses, with a private daemon directory, and stops the daemon
at the end. Figures depend on machine load: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_verify(infile: Path, env: dict, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "leanfd.cli", "verify", str(infile), *extra]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if out.returncode != 0 or '"proved"' not in out.stdout:
        sys.exit(f"verify failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=3, help="calls with the daemon up (after the first)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--skip-no-daemon", action="store_true", help="skip the old path (no daemon)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        infile = Path(tmp) / "one.jsonl"
        row = {"id": "t1", "statement": "theorem t1 : 2 + 2 = 4 :=", "proof": "by decide"}
        infile.write_text(json.dumps(row) + "\n")
        ddir = Path(tmp) / "daemon"
        env = dict(os.environ, LEANFD_DAEMON_DIR=str(ddir))
        env.pop("LEANFD_NO_DAEMON", None)
        flags = ["--workers", str(args.workers)]
        if not args.skip_no_daemon:
            old = run_verify(infile, env, [*flags, "--no-daemon"])
            print(f"no daemon (old path): {old:6.2f} s per call (Lean starts every time)")
        try:
            first = run_verify(infile, env, flags)
            print(f"daemon, first call:   {first:6.2f} s (starts the daemon)")
            warm = [run_verify(infile, env, flags) for _ in range(args.calls)]
            print(f"daemon, warm calls:   {', '.join(f'{w:.2f}' for w in warm)} s (best {min(warm):.2f} s)")
            if not args.skip_no_daemon:
                print(f"speed-up of a warm call over the old path: {old / min(warm):.0f}x")
        finally:
            subprocess.run([sys.executable, "-m", "leanfd.cli", "daemon", "stop"], env=env, timeout=60)


if __name__ == "__main__":
    main()
