"""A run directory's files: ``samples.jsonl`` (one record per sample), ``summary.csv`` (one row per
k), ``config.json``; writing them (through :mod:`leanfd.io`) and reading them back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leanfd.eval.bootstrap import B_DEFAULT, bootstrap_ci
from leanfd.eval.metrics import avg_at_n, entropy_summary, pass_at_k
from leanfd.io import append_jsonl, atomic_write, read_jsonl, write_jsonl_atomic

SAMPLES = "samples.jsonl"
SUMMARY = "summary.csv"
CONFIG = "config.json"
PLOT = "passk.png"


def read_samples(run_dir: Path) -> list[dict]:
    """Every well-formed record of ``samples.jsonl`` (a line cut short by a crash is skipped)."""
    path = Path(run_dir) / SAMPLES
    if not path.exists():
        return []
    return [r for _, r in read_jsonl(path, strict=False)]


def complete_problems(records: Iterable[dict], n: int) -> dict[str, list[dict]]:
    """Records grouped by problem, keeping only problems with all ``n`` sample indices present
    (one record per index, the last written wins)."""
    by_problem: dict[str, dict[int, dict]] = {}
    for r in records:
        by_problem.setdefault(r["problem"], {})[int(r["sample"])] = r
    return {
        name: [samples[i] for i in range(n)]
        for name, samples in by_problem.items()
        if all(i in samples for i in range(n))
    }


def write_records(path: Path, records: Sequence[dict]) -> None:
    """Rewrite ``samples.jsonl`` with exactly ``records`` (atomically)."""
    write_jsonl_atomic(path, records)


def append_records(path: Path, records: Sequence[dict]) -> None:
    """Append records and push them to disk before returning: a crash afterwards loses nothing."""
    append_jsonl(path, records)


def per_problem_pass_at_k(problems: dict[str, list[dict]], ks: Sequence[int]) -> tuple[list[str], np.ndarray]:
    """The sorted problem names and ``values[problem, k]``, each problem's unbiased pass@k."""
    names = sorted(problems)
    ns = np.array([len(problems[p]) for p in names])
    cs = np.array([sum(bool(r["verdict"]["ok"]) for r in problems[p]) for p in names])
    return names, np.stack([pass_at_k(ns, cs, k) for k in ks], axis=1)


def summarize(
    problems: dict[str, list[dict]], ks: Sequence[int], meta: dict, b: int = B_DEFAULT, seed: int = 0
) -> pd.DataFrame:
    """One row per k: ``pass@k`` (mean over problems of the unbiased estimator), ``solved`` (problems
    with at least one correct sample), ``avg@n``, entropy means, per-stage seconds (summed over the
    records' shares, so resumed runs add up), the run's ``meta`` (model, suite, split, n…), and last
    ``pass@k_lo``/``pass@k_hi``: a 95 % percentile bootstrap interval over problems (``b`` resamples,
    seeded, so a summary is reproducible)."""
    if not problems:
        raise ValueError("no complete problem in this run: nothing to summarize")
    names, values = per_problem_pass_at_k(problems, ks)
    lo, hi = bootstrap_ci(values, b=b, seed=seed)
    cs = np.array([sum(bool(r["verdict"]["ok"]) for r in problems[p]) for p in names])
    correct = [[bool(r["verdict"]["ok"]) for r in problems[p]] for p in names]
    ent = entropy_summary([[r["entropies"] for r in problems[p]] for p in names])
    all_records = [r for p in names for r in problems[p]]
    tokens = sum(len(r["token_ids"]) for r in all_records)
    stage = {
        f"{s}_s": float(sum(r.get("timing", {}).get(f"{s}_s", 0.0) for r in all_records))
        for s in ("sample", "extract", "verify")
    }
    statuses = pd.Series([r["verdict"]["status"] for r in all_records]).value_counts()
    rows = []
    for j, k in enumerate(ks):
        rows.append(
            {
                "k": int(k),
                "pass@k": float(values[:, j].mean()),
                "solved": int((cs > 0).sum()),
                "problems": len(names),
                "avg@n": avg_at_n(correct),
                "entropy_per_token": ent["per_token"],
                "entropy_per_sequence": ent["per_sequence"],
                "entropy_per_problem": ent["per_problem"],
                "new_tokens": tokens,
                "extracted": int(sum(r["proof"] is not None for r in all_records)),
                **{f"status_{s}": int(c) for s, c in statuses.items()},
                **stage,
                **meta,
                "pass@k_lo": float(lo[j]),
                "pass@k_hi": float(hi[j]),
            }
        )
    return pd.DataFrame(rows)


def summarize_policies(
    problems: dict[str, list[dict]], ks: Sequence[int], meta: dict, policies: Sequence[str] = ("strict",)
) -> pd.DataFrame:
    """:func:`summarize` under each verify preset, one block of rows per preset with a ``policy``
    column after ``k``. The first preset's verdicts are the records' ``verdict``; the others' are in
    ``verdicts[preset]`` (what ``leanfd eval --policy strict,published`` writes)."""
    frames = []
    for i, preset in enumerate(policies):
        if i == 0:
            view = problems
        else:
            missing = [
                p for p, rs in problems.items() if any(preset not in r.get("verdicts", {}) for r in rs)
            ]
            if missing:
                raise ValueError(
                    f"samples of {missing[0]!r} (and {len(missing) - 1} more problems) carry no verdict "
                    f"under the {preset!r} policy; evaluate again with --policy including it and a new --out"
                )
            view = {p: [{**r, "verdict": r["verdicts"][preset]} for r in rs] for p, rs in problems.items()}
        df = summarize(view, ks, meta)
        df.insert(1, "policy", preset)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    counts = [c for c in out.columns if c.startswith("status_")]  # a status one preset never gave
    out[counts] = out[counts].fillna(0).astype(int)
    return out


def run_meta(cfg, backend: str, timings: dict[str, float], **settings) -> dict:
    """The summary's per-run columns: the sampling settings every run has, then ``settings`` (the
    run kind's own), the backend, the estimator and the timings, in that column order."""
    return {
        "model": cfg.model if not cfg.adapter else f"{cfg.model}+{Path(cfg.adapter).name}",
        "suite": cfg.suite,
        "split": cfg.split,
        "n": cfg.n,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "max_new_tokens": cfg.max_new_tokens,
        **settings,
        "backend": backend,
        "estimator": "unbiased 1-C(n-c,k)/C(n,k)",
        **{k: round(v, 3) for k, v in timings.items()},
    }


def finish_summary(run_dir: Path, df: pd.DataFrame) -> pd.DataFrame:
    """Add ``tokens_per_s``, put the CI columns last (after every older one) and write the table."""
    df["tokens_per_s"] = df["new_tokens"] / df["sample_s"].where(df["sample_s"] > 0)
    ci = ["pass@k_lo", "pass@k_hi"]
    df = df[[c for c in df.columns if c not in ci] + ci]
    write_summary(run_dir, df)
    return df


def write_summary(run_dir: Path, df: pd.DataFrame) -> Path:
    path = Path(run_dir) / SUMMARY
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))
    return path


def read_run(run_dir: Path) -> tuple[int, dict[str, list[dict]]]:
    """A finished run's ``n`` (from ``summary.csv``) and its complete problems' records."""
    n = int(read_summary(run_dir)["n"].iloc[0])
    return n, complete_problems(read_samples(run_dir), n)


def read_summary(run_dir: Path) -> pd.DataFrame:
    path = Path(run_dir) / SUMMARY
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: {run_dir} is not a finished `leanfd eval` run")
    return pd.read_csv(path)
