"""Evaluating multi-turn episodes (``leanfd eval --max-turns T --tools ...``).

Each of a problem's ``n`` samples is an episode in :class:`leanfd.env.LeanEnv`; a batch of problems'
episodes is played in lockstep (:func:`leanfd.env.lockstep.run_episodes`: one sampler call per
round). An episode solves its problem if any check in it proved the theorem, and pass@k / Avg@n
use the same unbiased estimator as single-turn runs. ``samples.jsonl`` holds one record per
episode, appended as soon as it ends, so a run resumes per episode; ``summary.csv`` adds success by
turn (``pass@k_turn{t}``: proved at turn <= t), tool calls, tokens (policy and environment) and
entropy over policy tokens only; ``turns.png`` draws success against the turn.

The T = 1 baseline in the episode format is the ``turn1`` columns: the episodes' first turns, drawn
exactly as one-turn episodes with the same keys would be (same sampler streams, same tools
offered). The only difference from a separate one-turn run is the prompt's "You have T turns".
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from leanfd.data.problem import Problem
from leanfd.eval import results as R
from leanfd.eval.config import EvalConfig
from leanfd.eval.metrics import avg_at_n, pass_at_k

TURNS_PLOT = "turns.png"
#: The verdict of an episode that never checked a proof (Lean never saw one).
NO_CHECK = {
    "ok": False,
    "status": "failed",
    "messages": [],
    "time_s": 0.0,
    "axioms": [],
    "reason": "the episode made no check",
}


def episode_outcome(episode: dict) -> tuple[str | None, dict, int | None]:
    """``(proof, verdict, proved_turn)`` of an episode record (``Episode.to_dict()``): the check
    that proved it (``proved_turn`` counts turns from 1), else its last check (``proved_turn`` None),
    else no proof and :data:`NO_CHECK`."""
    last: tuple[str | None, dict] = (None, dict(NO_CHECK))
    for t, turn in enumerate(episode["turns"], 1):
        # A check that ran recorded one verdict; one refused before Lean (a bad argument) did not.
        codes = [c["arguments"].get("code") for c in turn["calls"] if c["name"] == "check" and c["ok"]]
        for code, verdict in zip(codes, turn["verdicts"], strict=True):
            last = (code, verdict)
            if verdict["ok"]:
                return code, verdict, t
    return last[0], last[1], None


def _round(xs) -> list:
    return [None if x is None else round(float(x), 6) for x in xs]


def episode_record(problem: Problem, index: int, run) -> dict:
    """One ``samples.jsonl`` record: an episode (a :class:`leanfd.env.lockstep.EpisodeRun`) with
    its outcome, counts and timings; ``episode`` is the whole token-in/token-out record."""
    ep = run.episode.to_dict()
    ep["logprobs"] = _round(ep["logprobs"])
    proof, verdict, proved_turn = episode_outcome(ep)
    calls = [c for t in ep["turns"] for c in t["calls"]]
    policy_tokens = sum(ep["mask"])
    return {
        "problem": problem.name,
        "split": problem.split,
        "sample": index,
        "key": run.key,
        "proof": proof,
        "verdict": verdict,
        "proved_turn": proved_turn,
        "turns": len(ep["turns"]),
        "tool_calls": len(calls),
        "checks": sum(c["name"] == "check" for c in calls),
        "policy_tokens": policy_tokens,
        "env_tokens": len(ep["mask"]) - policy_tokens,
        "entropies": _round(run.entropies),
        "episode": ep,
        "timing": {"sample_s": round(run.sample_s, 6), "env_s": round(run.env_s, 6)},
    }


def success_by_turn(problems: dict[str, list[dict]], ks: Sequence[int], max_turns: int) -> dict[str, float]:
    """``pass@k_turn{t}`` and ``avg@n_turn{t}`` for t = 1..max_turns: the same estimators, counting
    an episode correct when it proved the theorem at turn <= t."""
    names = sorted(problems)
    ns = np.array([len(problems[p]) for p in names])
    out: dict[str, float] = {}
    for t in range(1, max_turns + 1):
        correct = [
            [r["proved_turn"] is not None and r["proved_turn"] <= t for r in problems[p]] for p in names
        ]
        cs = np.array([sum(c) for c in correct])
        out[f"avg@n_turn{t}"] = avg_at_n(correct)
        for k in ks:
            out[f"pass@{k}_turn{t}"] = float(np.mean(pass_at_k(ns, cs, k)))
    return out


def summarize_episodes(
    problems: dict[str, list[dict]], ks: Sequence[int], meta: dict, max_turns: int
) -> pd.DataFrame:
    """:func:`leanfd.eval.results.summarize` over episodes (entropy and ``new_tokens`` over policy
    tokens only; ``verify_s`` is the environment's time, tools and Lean), plus per k the success by
    turn (``pass@k_turn{t}``, ``avg@n_turn{t}``) and per-episode means: turns, tool calls (a
    ```` ```lean ```` block counts as a check), checks, policy and environment tokens."""
    view = {
        name: [
            {
                "verdict": r["verdict"],
                "proof": r["proof"],
                "entropies": r["entropies"],
                "token_ids": range(r["policy_tokens"]),  # summarize counts them
                "timing": {"sample_s": r["timing"]["sample_s"], "verify_s": r["timing"]["env_s"]},
            }
            for r in rs
        ]
        for name, rs in problems.items()
    }
    df = R.summarize(view, ks, meta)
    records = [r for rs in problems.values() for r in rs]
    per_episode = {
        f"{c}_per_episode": float(np.mean([r[c] for r in records]))
        for c in ("turns", "tool_calls", "checks", "policy_tokens", "env_tokens")
    }
    by_turn = success_by_turn(problems, ks, max_turns)
    extra = []
    for k in df["k"]:
        row = {**per_episode, "env_s": float(df["verify_s"].iloc[0])}
        row.update({f"avg@n_turn{t}": by_turn[f"avg@n_turn{t}"] for t in range(1, max_turns + 1)})
        row.update({f"pass@k_turn{t}": by_turn[f"pass@{k}_turn{t}"] for t in range(1, max_turns + 1)})
        extra.append(row)
    df = pd.concat([df, pd.DataFrame(extra)], axis=1)
    ci = ["pass@k_lo", "pass@k_hi"]
    return df[[c for c in df.columns if c not in ci] + ci]


def evaluate_episodes(cfg: EvalConfig, *, policy=None, verifier=None, examples: Sequence[Problem] = ()):
    """:func:`leanfd.eval.evaluate.evaluate` for episode runs (``cfg.episodes``): run or resume,
    write ``samples.jsonl``, ``summary.csv``, ``passk.png`` and ``turns.png``."""
    from tqdm.auto import tqdm

    from leanfd.data import check_backend_supports, load_suite
    from leanfd.env.episode import LeanEnv
    from leanfd.env.lockstep import run_episodes
    from leanfd.eval.evaluate import SMALL_EVAL_ATTEMPTS, EvalResult, _check_resume, _imports
    from leanfd.eval.plots import plot_passk, plot_turns
    from leanfd.lean import Verifier
    from leanfd.lean.background import BackgroundStart
    from leanfd.models.generate import make_sampler

    if examples:
        raise ValueError("episodes show no few-shot examples; evaluate episodes without examples")
    t_wall = time.perf_counter()
    timings: dict[str, float] = {}
    problems: list[Problem] = load_suite(cfg.suite, split=cfg.split, limit=cfg.limit)
    preset = cfg.policies[0]
    own_verifier = verifier is None
    if own_verifier:
        workers = cfg.workers
        if workers is None and len(problems) * cfg.n <= SMALL_EVAL_ATTEMPTS:
            workers = 1
        # The env's tools call the verifier directly (search and read too), so no daemon here.
        verifier = Verifier(
            backend=cfg.backend,
            workers=workers,
            timeout_s=cfg.timeout_s,
            heartbeats=cfg.heartbeats,
            policy=preset,
        )
    elif getattr(verifier, "policy", "strict") != preset:
        raise ValueError(
            f"--policy {preset}: episodes are judged by the verifier's own preset "
            f"({getattr(verifier, 'policy', 'strict')}); pass a Verifier(policy={preset!r})"
        )
    lean_start = None
    try:
        check_backend_supports(problems, verifier.supports_mathlib, verifier.backend)
        cfg.out.mkdir(parents=True, exist_ok=True)
        _check_resume(cfg)
        samples_path = cfg.out / R.SAMPLES
        names = {p.name for p in problems}
        on_disk: dict[tuple[str, int], dict] = {}
        for r in R.read_samples(cfg.out):  # the last record of an episode wins
            on_disk[(r["problem"], int(r["sample"]))] = r
        # Rewrite without a line cut short by a crash, so appends start clean.
        R.write_records(samples_path, list(on_disk.values()))
        todo = [(i, p, j) for i, p in enumerate(problems) for j in range(cfg.n) if (p.name, j) not in on_disk]
        skipped = len(problems) * cfg.n - len(todo)  # episodes already on disk

        sampler = tokenizer = None
        if todo:
            lean_start = BackgroundStart(verifier, {_imports(p.header) for _, p, _ in todo})
            t0 = time.perf_counter()
            sampler, tokenizer = make_sampler(
                cfg.sampler,
                model=cfg.model,
                policy=policy,
                adapter=cfg.adapter,
                batch_size=cfg.batch_size,
                seed=cfg.seed,
                progress=False,
            )
            timings["model_load_s"] = time.perf_counter() - t0
            timings["verifier_wait_s"] = lean_start.wait()
            timings["verifier_start_s"] = lean_start.start_s

        bar = tqdm(
            total=len(problems) * cfg.n,
            initial=skipped,
            desc="eval",
            unit="episode",
            disable=not cfg.progress,
        )
        per_batch = max(1, cfg.batch_size // cfg.n)  # problems whose episodes play together
        batch_problems = sorted({i for i, _, _ in todo})
        totals = {
            "rounds": 0,
            "prefill_tokens": 0,
            "sample_s": 0.0,
            "prefill_s": 0.0,
            "decode_s": 0.0,
            "env_s": 0.0,
        }
        for b in range(0, len(batch_problems), per_batch):
            chosen = set(batch_problems[b : b + per_batch])
            batch = [(i, p, j) for i, p, j in todo if i in chosen]
            envs = [
                LeanEnv(
                    p,
                    tokenizer,
                    tools=cfg.tools,
                    max_turns=cfg.max_turns,
                    max_tokens=cfg.max_episode_tokens,
                    verifier=verifier,
                    timeout_s=cfg.timeout_s,
                )
                for _, p, _ in batch
            ]
            where = {id(env): (p, j) for env, (_, p, j) in zip(envs, batch, strict=True)}

            def write(run, where=where):
                p, j = where[id(run.env)]
                R.append_records(samples_path, [episode_record(p, j, run)])
                bar.update(1)

            _, stats = run_episodes(
                envs,
                sampler,
                keys=[i * cfg.n + j for i, _, j in batch],
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                max_new_tokens=cfg.max_new_tokens,
                seed=cfg.seed,
                on_done=write,
            )
            for k in totals:
                totals[k] += getattr(stats, k)
        bar.close()
        if todo:
            timings.update({f"lockstep_{k}": v for k, v in totals.items()})
    finally:
        if lean_start is not None:
            lean_start.join()
        if own_verifier:
            verifier.close()

    complete = {k: v for k, v in R.complete_problems(R.read_samples(cfg.out), cfg.n).items() if k in names}
    timings["wall_s"] = time.perf_counter() - t_wall
    meta = R.run_meta(
        cfg,
        verifier.backend,
        timings,
        max_turns=cfg.max_turns,
        tools=",".join(("check", *[t for t in cfg.tools if t != "check"])),
        max_episode_tokens=cfg.max_episode_tokens,
    )
    df = R.finish_summary(cfg.out, summarize_episodes(complete, cfg.ks, meta, cfg.max_turns))
    plot_passk({cfg.out.name: df}, cfg.out / R.PLOT)
    plot_turns({cfg.out.name: df}, cfg.out / TURNS_PLOT)
    return EvalResult(summary=df, run_dir=cfg.out, timings=timings, skipped=skipped)
