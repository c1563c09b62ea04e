"""The evaluate loop: problems → prompts → samples → extracted proofs → verdicts → pass@k.

Work goes in problem batches (``batch_size // n`` problems, so one ``generate`` call holds about
``batch_size`` sequences). After each batch its records are appended to ``samples.jsonl`` and
flushed, so an interrupted run resumes where it stopped: problems with all ``n`` samples on disk
are skipped. ``summary.csv`` and ``passk.png`` are rewritten (atomically) at the end from every
record on disk. Batches are seeded by their first problem's position in the suite, so a resumed run
draws the same samples an uninterrupted one would (with the same ``batch_size``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from leanfd.data.problem import Attempt, Problem
from leanfd.eval import results as R
from leanfd.eval.config import EPISODE_IDENTITY, EvalConfig

__all__ = ["EvalConfig", "EvalResult", "evaluate"]

#: Evals of at most this many attempts (problems x n) use one Lean worker unless --workers is given.
SMALL_EVAL_ATTEMPTS = 64


@dataclass
class EvalResult:
    summary: pd.DataFrame
    run_dir: Path
    timings: dict[str, float]
    skipped: int  # problems already complete on disk (resume); episodes, in an episode run


def _check_resume(cfg: EvalConfig) -> None:
    path = cfg.out / R.CONFIG
    mine = cfg.identity()
    if path.exists():
        # Runs from before presets and episodes lack those fields: they had the defaults.
        defaults = {"verify_policy": "strict", **EPISODE_IDENTITY}
        theirs = {**defaults, **json.loads(path.read_text())}
        if cfg.few_shot:  # written before few_shot_seed: the examples were drawn with the run's seed
            theirs.setdefault("few_shot_seed", theirs.get("seed"))
        diff = {k: (theirs.get(k), v) for k, v in {**defaults, **mine}.items() if theirs.get(k) != v}
        if diff:
            shown = ", ".join(f"{k}: {a!r} on disk vs {b!r} now" for k, (a, b) in diff.items())
            raise ValueError(
                f"{cfg.out} holds a run with other settings ({shown}); resume it with the same "
                f"settings or pass a new --out"
            )
    else:
        R.atomic_write(path, lambda tmp: tmp.write_text(json.dumps(mine, indent=2) + "\n"))


def _round(xs: list[float]) -> list[float]:
    return [round(float(x), 6) for x in xs]


def evaluate(
    cfg: EvalConfig, *, policy=None, verifier=None, examples: Sequence[Problem] | None = None
) -> EvalResult:
    """Run (or resume) an evaluation and write the run directory; returns the summary table.

    ``policy`` (a :class:`leanfd.models.policy.Policy`) and ``verifier`` (a warm
    :class:`leanfd.lean.Verifier`) may be passed in to reuse loaded ones; otherwise they are made
    from ``cfg`` (and the verifier is closed at the end). ``examples`` fixes the few-shot examples
    (a trainer passes the ones it trains with); otherwise ``cfg.few_shot`` picks them.
    """
    if cfg.episodes:
        from leanfd.eval.episodes import evaluate_episodes

        return evaluate_episodes(cfg, policy=policy, verifier=verifier, examples=examples or ())
    from tqdm.auto import tqdm

    from leanfd.data import check_backend_supports, few_shot_examples, load_suite
    from leanfd.lean import Verifier
    from leanfd.lean.background import BackgroundStart
    from leanfd.lean.completions import check_completions
    from leanfd.lean.daemon import running as running_daemon
    from leanfd.lean.verify import verdicts_under
    from leanfd.models.generate import generate, make_sampler

    t_wall = time.perf_counter()
    timings: dict[str, float] = {}
    problems: list[Problem] = load_suite(cfg.suite, split=cfg.split, limit=cfg.limit)
    own_verifier = verifier is None
    lean_start = None
    if own_verifier:
        # A small eval finishes its verifying in seconds on one worker; each extra worker costs a
        # Lean start-up (about 20 s of CPU) that competes with sampling on a small machine.
        workers = cfg.workers
        if workers is None and len(problems) * cfg.n <= SMALL_EVAL_ATTEMPTS:
            workers = 1
        # A warm daemon (leanfd daemon start) verifies for us: no sessions of our own beside it.
        verifier = running_daemon(cfg.backend) or Verifier(
            backend=cfg.backend, workers=workers, timeout_s=cfg.timeout_s, heartbeats=cfg.heartbeats
        )
    try:
        # Mathlib suites fail before any model loads; the verifier says what it can check.
        check_backend_supports(problems, verifier.supports_mathlib, verifier.backend)
        cfg.out.mkdir(parents=True, exist_ok=True)
        _check_resume(cfg)
        samples_path = cfg.out / R.SAMPLES
        done = R.complete_problems(R.read_samples(cfg.out), cfg.n)
        # Drop partial problems (and a line cut short by a crash) so appends start clean.
        kept = [r for p in problems if p.name in done for r in done[p.name]]
        others = [r for name, rs in done.items() if name not in {p.name for p in problems} for r in rs]
        R.write_records(samples_path, others + kept)
        todo = [(i, p) for i, p in enumerate(problems) if p.name not in done]
        skipped = len(problems) - len(todo)

        examples = list(examples or [])
        if cfg.few_shot and not examples:
            examples = few_shot_examples(
                load_suite(cfg.suite), exclude_split=cfg.split, k=cfg.few_shot, seed=cfg.shot_seed
            )

        sampler = None
        if todo:
            # Lean starts while the model loads and samples; the first verification waits for it.
            lean_start = BackgroundStart(verifier, {_imports(p.header) for _, p in todo})
            t0 = time.perf_counter()
            sampler, tokenizer = make_sampler(
                cfg.sampler,
                model=cfg.model,
                policy=policy,
                adapter=cfg.adapter,
                batch_size=cfg.batch_size,
                seed=cfg.seed,
                progress=cfg.progress,
            )
            timings["model_load_s"] = time.perf_counter() - t0

        per_batch = max(1, cfg.batch_size // cfg.n)
        bar = tqdm(
            total=len(problems), initial=skipped, desc="eval", unit="problem", disable=not cfg.progress
        )
        verify_s = [0.0]
        waited_s = [0.0]  # the first batch's wait for Lean's start: neither extraction nor verification

        def verify(attempts):
            if lean_start is not None and lean_start.waited_s is None:
                timings["verifier_wait_s"] = waited_s[0] = lean_start.wait()
                timings["verifier_start_s"] = lean_start.start_s
            t = time.perf_counter()
            try:
                return verifier.verify(
                    attempts, timeout_s=cfg.timeout_s, heartbeats=cfg.heartbeats, policy=cfg.policies[0]
                )
            finally:
                verify_s[0] += time.perf_counter() - t

        def judge_again(items, checked) -> list[dict]:
            """Each record's verdicts under the other presets (``verdicts`` in samples.jsonl)."""
            out: list[dict] = [{} for _ in checked]
            has = [i for i, c in enumerate(checked) if c.proof is not None]
            for preset in cfg.policies[1:]:
                t = time.perf_counter()
                again = verdicts_under(
                    verifier,
                    [Attempt(items[i][0], checked[i].proof) for i in has],
                    [checked[i].verdict for i in has],
                    preset,
                    timeout_s=cfg.timeout_s,
                    heartbeats=cfg.heartbeats,
                )
                verify_s[0] += time.perf_counter() - t
                for d, c in zip(out, checked, strict=True):
                    d[preset] = replace(c.verdict, policy=preset).to_dict()  # no proof: NO_PROOF
                for i, v in zip(has, again, strict=True):
                    out[i][preset] = v.to_dict()
            return out

        for b in range(0, len(todo), per_batch):
            batch = todo[b : b + per_batch]
            t0 = time.perf_counter()
            gens = generate(
                [p for _, p in batch],
                sampler,
                tokenizer,
                n=cfg.n,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                max_new_tokens=cfg.max_new_tokens,
                seed=cfg.seed * 100_003 + batch[0][0],
                style=cfg.prompt,
                examples=examples,
                prefill=cfg.prefill,
            )
            t_sample = time.perf_counter() - t0
            t0, verify_s[0] = time.perf_counter(), 0.0
            items = [(g.problem, c) for g in gens for c in g.completions()]
            checked = check_completions(items, verify)
            others = iter(judge_again(items, checked))
            checked = iter(checked)
            t_verify = verify_s[0]
            t_extract = time.perf_counter() - t0 - t_verify - waited_s[0]
            waited_s[0] = 0.0
            rows = len(batch) * cfg.n
            share = {"sample_s": t_sample / rows, "extract_s": t_extract / rows, "verify_s": t_verify / rows}
            records = []
            for g in gens:
                for j, s in enumerate(g.samples):
                    c = next(checked)
                    records.append(
                        {
                            "problem": g.problem.name,
                            "split": g.problem.split,
                            "sample": j,
                            "response_prefix": g.prompt.response_prefix,
                            "completion": s.text,
                            "proof": c.proof,
                            "verdict": c.verdict.to_dict(),
                            **({"verdicts": next(others)} if len(cfg.policies) > 1 else {}),
                            "stopped": s.stopped,
                            "token_ids": s.token_ids,
                            "logprobs": _round(s.logprobs),
                            "entropies": _round(s.entropies),
                            "timing": {k: round(v, 6) for k, v in share.items()},
                        }
                    )
            R.append_records(samples_path, records)
            bar.update(len(batch))
        bar.close()
    finally:
        if lean_start is not None:
            lean_start.join()  # closing under a start still in progress would leak its sessions
        if own_verifier:
            verifier.close()

    records = R.read_samples(cfg.out)
    names = {p.name for p in problems}
    complete = {k: v for k, v in R.complete_problems(records, cfg.n).items() if k in names}
    timings["wall_s"] = time.perf_counter() - t_wall
    meta = R.run_meta(
        cfg,
        verifier.backend,
        timings,
        prompt=cfg.prompt,
        few_shot=len(examples) if examples else cfg.few_shot,
    )
    df = R.finish_summary(cfg.out, R.summarize_policies(complete, cfg.ks, meta, cfg.policies))
    from leanfd.eval.plots import plot_passk

    if len(cfg.policies) == 1:
        plot_passk({cfg.out.name: df}, cfg.out / R.PLOT)
    else:
        plot_passk({f"{cfg.out.name} ({p})": df[df["policy"] == p] for p in cfg.policies}, cfg.out / R.PLOT)
    return EvalResult(summary=df, run_dir=cfg.out, timings=timings, skipped=skipped)


def _imports(header: str) -> tuple[str, ...]:
    from leanfd.lean.verify import split_header

    return split_header(header)[0]
