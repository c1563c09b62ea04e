"""Check the core suite with the embedded Lean, one file per pass, and print what it measured.

Run from the repository root: ``python benchmarks/suites/check_core_suite.py [--passes refs,oneliners]``.

Passes (each is one Lean process on one file, so start-up is paid once per pass):

- ``refs``: every statement with its reference proof must elaborate with no error and no warning
  about ``sorry``; and every statement with ``sorry`` as its proof must elaborate with exactly the
  ``sorry`` warning (so the statement itself is well-formed and not closed by accident).
- ``oneliners``: each bare one-line tactic (``decide``, ``omega``, ``simp``, ``grind``) on every
  statement, under a heartbeat bound, to measure which problems a one-liner proves. The recorded
  ``difficulty`` must agree: ``decide``/``omega``/``auto`` (simp or grind) for the cheapest bare
  tactic that works, ``manual``/``hard`` only if none works.

It prints per-pass wall time, counts by split and difficulty, and one-liner success counts; it exits
non-zero on any failure or disagreement. ``--json FILE`` also writes the per-problem results.

This script runs raw Lean on files it writes itself (trusted text); candidate proofs go through
``leanfd.lean.verify_batch`` instead, which screens and audits them.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leanfd.data import Problem, load_suite
from leanfd.lean.toolchain import install_embedded

ONE_LINERS = ("decide", "omega", "simp", "grind")
# Heartbeats: reference proofs get the verifier's default; one-liner probes a smaller bound, so a
# tactic that cannot close the goal fails quickly instead of searching (measured: a bare decide or
# grind on a goal it cannot prove otherwise runs for minutes and gigabytes).
REF_HEARTBEATS = 200_000
PROBE_HEARTBEATS = 50_000
MANUAL_MAX_LINES = 6
RAW_DIR: Path | None = None  # --raw-dir: keep Lean's stdout per pass, for debugging


def renamed(p: Problem, suffix: str) -> str:
    """The statement with the theorem renamed ``<name>__<suffix>`` (so passes can share a file)."""
    old = f"theorem {p.name}"
    if old not in p.statement:
        raise ValueError(f"{p.name}: statement does not declare 'theorem {p.name}'")
    return p.statement.replace(old, f"theorem {p.name}__{suffix}", 1)


def run_lean(text: str, label: str) -> tuple[list[dict], float, int]:
    """Run the embedded Lean on ``text``; return its JSON messages, the wall time and the exit code."""
    tc = install_embedded(quiet=True)
    with tempfile.TemporaryDirectory(prefix="leanfd-core-") as d:
        path = Path(d) / f"{label}.lean"
        path.write_text(text, encoding="utf-8")
        t0 = time.perf_counter()
        # maxErrors: Lean stops a file after 100 errors by default; the probe pass expects more.
        # Elab.async=false: with theorems elaborated in parallel, this build printed no message at all
        # for 5 of 100 `sorry` theorems in one file (measured twice, same 5); one thread at a time
        # prints every message.
        proc = subprocess.run(
            tc.command("--json", "-DmaxErrors=1000000", "-DElab.async=false", str(path)),
            env=tc.env(Path(d)),
            cwd=d,
            capture_output=True,
            text=True,
        )
        dt = time.perf_counter() - t0
    if RAW_DIR:
        (RAW_DIR / f"{label}.stdout").write_text(proc.stdout, encoding="utf-8")
    msgs, garbled = [], 0
    for line in proc.stdout.splitlines():
        if '"severity"' not in line:
            continue  # [DEBUG...] progress lines of the embedded build
        try:
            m = json.loads(line[line.index("{") :])
        except (ValueError, json.JSONDecodeError):
            garbled += 1
            continue
        msgs.append(m)
    if garbled:
        sys.exit(f"{garbled} Lean message line(s) of the {label} pass could not be parsed; rerun")
    if proc.returncode != 0 and not msgs:
        sys.exit(f"Lean failed on the {label} pass without messages:\n{proc.stderr[-2000:]}")
    return msgs, dt, proc.returncode


def per_theorem(text: str, msgs: list[dict]) -> dict[str, list[dict]]:
    """Assign each message to the theorem whose text contains its line."""
    starts = []
    for i, line in enumerate(text.split("\n"), start=1):
        m = re.match(r"(?:set_option \S+ \d+ in )?theorem (\S+)", line)
        if m:
            starts.append((i, m.group(1)))
    out: dict[str, list[dict]] = {name: [] for _, name in starts}
    for m in msgs:
        line = m["pos"]["line"]
        owner = None
        for start, name in starts:
            if start <= line:
                owner = name
            else:
                break
        if owner is None:
            sys.exit(f"message outside any theorem: {m}")
        out[owner].append(m)
    return out


def is_sorry(m: dict) -> bool:
    return m["severity"] == "warning" and "declaration uses `sorry`" in m["data"]


def pass_refs(problems: list[Problem]) -> tuple[dict, float, list[str]]:
    parts = []
    for p in problems:
        if p.header:
            raise ValueError(f"{p.name}: the core suite must have an empty header")
        parts.append(f"set_option maxHeartbeats {REF_HEARTBEATS} in {p.statement} {p.reference_proof}\n")
        parts.append(f"{renamed(p, 'sorry')} by sorry\n")
    text = "\n".join(parts)
    msgs, dt, rc = run_lean(text, "refs")
    by = per_theorem(text, msgs)
    failures, results = [], {}
    for p in problems:
        ref = by[p.name]
        bad = [m for m in ref if m["severity"] == "error" or is_sorry(m)]
        srr = by[f"{p.name}__sorry"]
        sorry_ok = [is_sorry(m) for m in srr] == [True] and not any(m["severity"] == "error" for m in srr)
        results[p.name] = {"reference_ok": not bad, "sorry_check_ok": sorry_ok}
        if bad:
            failures.append(f"{p.name}: reference proof fails: {bad[0]['data'][:300]}")
        if not sorry_ok:
            failures.append(f"{p.name}: 'sorry' check gave {[m['data'][:120] for m in srr]}")
    # Lean's exit code comes from its message log, not from what it printed: a non-zero code with no
    # error on screen means a lost message, and the per-theorem results above cannot be trusted.
    if rc != 0 and not any(m["severity"] == "error" for m in msgs):
        failures.append(f"Lean exited with code {rc} but printed no error: a message was lost")
    return results, dt, failures


def pass_oneliners(problems: list[Problem]) -> tuple[dict, float]:
    parts = []
    for p in problems:
        for tac in ONE_LINERS:
            parts.append(f"set_option maxHeartbeats {PROBE_HEARTBEATS} in {renamed(p, tac)} by {tac}\n")
    text = "\n".join(parts)
    msgs, dt, _ = run_lean(text, "oneliners")
    by = per_theorem(text, msgs)
    results = {}
    for p in problems:
        results[p.name] = [
            tac
            for tac in ONE_LINERS
            if not any(m["severity"] == "error" or is_sorry(m) for m in by[f"{p.name}__{tac}"])
        ]
    return results, dt


def expected_tier(p: Problem, proved_by: list[str]) -> str:
    for tier, tactics in (("decide", {"decide"}), ("omega", {"omega"}), ("auto", {"simp", "grind"})):
        if tactics & set(proved_by):
            return tier
    return "manual" if p.reference_proof.count("\n") + 1 <= MANUAL_MAX_LINES else "hard"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="core", help="suite name or JSONL path (default: core)")
    ap.add_argument("--passes", default="refs,oneliners", help="comma-separated: refs, oneliners")
    ap.add_argument("--json", type=Path, help="write per-problem results to this file")
    ap.add_argument("--raw-dir", type=Path, help="keep Lean's raw stdout of each pass in this directory")
    args = ap.parse_args()
    global RAW_DIR
    RAW_DIR = args.raw_dir
    passes = set(args.passes.split(","))
    problems = load_suite(args.suite)
    print(f"suite {args.suite}: {len(problems)} problems")
    counts = collections.Counter((p.split, p.difficulty) for p in problems)
    splits = sorted({p.split for p in problems})
    tiers = ["decide", "omega", "auto", "manual", "hard"]
    print("difficulty  " + "  ".join(f"{s:>6}" for s in splits) + "   total")
    for t in tiers:
        row = [counts[(s, t)] for s in splits]
        print(f"{t:<10}  " + "  ".join(f"{c:>6}" for c in row) + f"  {sum(row):>6}")
    print("total       " + "  ".join(f"{sum(counts[(s, t)] for t in tiers):>6}" for s in splits))

    report: dict[str, dict] = {p.name: {"split": p.split, "difficulty": p.difficulty} for p in problems}
    failures: list[str] = []
    if "refs" in passes:
        results, dt, fails = pass_refs(problems)
        failures += fails
        for name, r in results.items():
            report[name].update(r)
        ok = sum(r["reference_ok"] for r in results.values())
        sok = sum(r["sorry_check_ok"] for r in results.values())
        print(
            f"refs pass: {ok}/{len(problems)} reference proofs accepted, {sok}/{len(problems)} statements "
            f"elaborate with exactly the sorry warning; one Lean process, {dt:.1f} s wall "
            f"({2 * len(problems)} theorems)"
        )
    if "oneliners" in passes:
        results, dt = pass_oneliners(problems)
        for p in problems:
            report[p.name]["one_liners"] = results[p.name]
            want = expected_tier(p, results[p.name])
            if p.difficulty != want:
                failures.append(
                    f"{p.name}: difficulty {p.difficulty!r} but measured {want!r} ({results[p.name]})"
                )
        per_tac = {t: sum(t in r for r in results.values()) for t in ONE_LINERS}
        any_one = sum(bool(r) for r in results.values())
        print(
            f"oneliners pass: {len(problems) * len(ONE_LINERS)} attempts, {dt:.1f} s wall; proved by "
            + ", ".join(f"{t} {n}" for t, n in per_tac.items())
            + f"; by at least one: {any_one}/{len(problems)}"
        )
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, args.json)
    for f in failures:
        print("FAIL", f)
    print("OK" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
