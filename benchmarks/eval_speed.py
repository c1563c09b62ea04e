"""Where the time of a small eval goes: sampler tokens/s, verify seconds, share of wall time per stage.

Runs a fixed eval (default: the first 4 core test problems x 4 samples, SmolLM2-135M, 128 new tokens,
embedded Lean) in a fresh temporary run directory and prints one table. Usage:

    python benchmarks/eval_speed.py [--problems 4] [-n 4] [--max-new-tokens 128] [--batch-size 16]

Stages: model load (from the converted cache; the first ever load also converts the GGUF),
verifier start (warm Lean sessions), sampling, proof extraction, verification; "other" is the rest
(prompt building, writing files, summary and plot).

Sampler only, at ``make demo``'s settings (no Lean):

    python benchmarks/eval_speed.py --sampler-only [--naive] [--no-shared-prefix]

samples the first 12 core test problems x 4 with 3 few-shot examples, at most 256 new tokens,
T = 1, top-p 0.95, stopping at the closing fence, prompts built by ``build_prompt`` and sampler calls
made as ``leanfd eval`` makes them (``batch_size // n`` problems per call, seeded by the call's first
problem). It prints the new sampler's tokens/s and, with ``--naive``, the old one's beside it
(``TransformersSampler(naive=True)``: ``model.generate`` over prompt x sample rows);
``--no-shared-prefix`` adds the new sampler with each prompt prefilled whole, to see what sharing
the few-shot prefix saves. The 1-minute
load average before and after each run is printed next to its figure: a loaded machine slows both.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

#: ``make demo``: leanfd eval --suite core --split test -n 4 --limit 12 --few-shot 3 (256 new tokens,
#: T = 1, top-p 0.95 and batch size 16 are eval's defaults).
DEMO = {"problems": 12, "n": 4, "few_shot": 3, "max_new_tokens": 256, "batch_size": 16}


def demo_prompts(tokenizer, problems: int, few_shot: int) -> list[str]:
    """The prompts ``leanfd eval --suite core --split test --limit P --few-shot K`` samples."""
    from leanfd.data import few_shot_examples, load_suite
    from leanfd.models.prompts import build_prompt

    examples = few_shot_examples(load_suite("core"), exclude_split="test", k=few_shot, seed=0)
    return [
        build_prompt(p, tokenizer, examples=examples).text
        for p in load_suite("core", split="test")[:problems]
    ]


def sample_like_eval(sampler, prompts: list[str], args) -> dict[str, float]:
    """Sample ``prompts`` in the calls ``leanfd eval`` makes; totals over the calls."""
    per_call = max(1, args.batch_size // args.n)
    totals = dict.fromkeys(("new_tokens", "prefill_tokens", "decode_steps", "decode_rows", "samples"), 0)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    for b in range(0, len(prompts), per_call):
        out = sampler.sample(
            prompts[b : b + per_call],
            n=args.n,
            temperature=1.0,
            top_p=0.95,
            max_new_tokens=args.max_new_tokens,
            seed=b,  # eval: cfg.seed * 100_003 + the call's first problem
            stop=("```",),
        )
        for k in ("new_tokens", "prefill_tokens", "decode_steps", "decode_rows"):
            totals[k] += getattr(sampler.stats, k)
        totals["samples"] += sum(map(len, out))
    totals["seconds"] = time.perf_counter() - t0
    totals["load_before"], totals["load_after"] = load, os.getloadavg()[0]
    return totals


def sampler_only(args) -> None:
    from leanfd.models.policy import load_policy
    from leanfd.models.sampling import TransformersSampler

    policy = load_policy(args.model)
    prompts = demo_prompts(policy.tokenizer, args.problems, args.few_shot)
    lens = [len(policy.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    print(
        f"sampler only: {args.problems} problems x {args.n} samples, --few-shot {args.few_shot} "
        f"(prompts {min(lens)}-{max(lens)} tokens), {args.model}, max_new_tokens={args.max_new_tokens}, "
        f"batch_size={args.batch_size}, {max(1, args.batch_size // args.n)} problems per call, "
        f"{os.cpu_count()} CPUs, torch threads {__import__('torch').get_num_threads()}"
    )
    print(
        f"{'sampler':16}{'tokens':>8}{'seconds':>9}{'tok/s':>8}{'prefill tok':>12}{'steps':>7}"
        f"{'rows/step':>10}{'load avg before/after':>23}",
        flush=True,
    )
    runs = {}
    variants = [("new", {})]
    if args.no_shared_prefix:  # every prompt prefilled whole (once for its n samples)
        variants.append(("new, no shared", {"min_shared_prefix": 10**9}))
    if args.naive:
        variants.append(("old (--naive)", {"naive": True}))
    for name, kw in variants:
        sampler = TransformersSampler(policy, batch_size=args.batch_size, progress=False, **kw)
        r = runs[name] = sample_like_eval(sampler, prompts, args)
        print(
            f"{name:16}{r['new_tokens']:>8}{r['seconds']:>9.1f}{r['new_tokens'] / r['seconds']:>8.1f}"
            f"{r['prefill_tokens']:>12}{r['decode_steps']:>7}{r['decode_rows'] / max(1, r['decode_steps']):>10.1f}"
            f"{r['load_before']:>15.2f} / {r['load_after']:.2f}",
            flush=True,
        )
    if args.naive:
        new, old = runs["new"], runs["old (--naive)"]
        speedup = (new["new_tokens"] / new["seconds"]) / (old["new_tokens"] / old["seconds"])
        print(
            f"new / old: {speedup:.1f}x tokens/s, {old['seconds'] / new['seconds']:.1f}x less time "
            "(the samples differ: the old sampler seeds per call, the new one per sample)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=None, help="default 4 (12 with --sampler-only)")
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default 128 (256 with --sampler-only)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument(
        "--sampler-only", action="store_true", help="time the sampler alone at the demo's settings"
    )
    ap.add_argument("--few-shot", type=int, default=DEMO["few_shot"], help="with --sampler-only")
    ap.add_argument("--naive", action="store_true", help="with --sampler-only: also time the old sampler")
    ap.add_argument(
        "--no-shared-prefix",
        action="store_true",
        help="with --sampler-only: also time the new sampler without sharing the prompts' common prefix",
    )
    args = ap.parse_args()
    if args.sampler_only:
        args.problems = args.problems or DEMO["problems"]
        args.max_new_tokens = args.max_new_tokens or DEMO["max_new_tokens"]
        sampler_only(args)
        return
    args.problems = args.problems or 4
    args.max_new_tokens = args.max_new_tokens or 128

    from leanfd.eval.evaluate import EvalConfig, evaluate

    with tempfile.TemporaryDirectory() as tmp:
        cfg = EvalConfig(
            out=Path(tmp) / "bench",
            suite="core",
            split="test",
            model=args.model,
            n=args.n,
            ks=(1, args.n),
            limit=args.problems,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            backend="embedded",
            workers=args.workers,
            progress=False,
        )
        t0 = time.perf_counter()
        result = evaluate(cfg)
        wall = time.perf_counter() - t0
    row = result.summary.iloc[0]
    stages = {
        "model load": result.timings.get("model_load_s", 0.0),
        "verifier start": result.timings.get("verifier_start_s", 0.0),
        "sampling": float(row["sample_s"]),
        "extraction": float(row["extract_s"]),
        "verification": float(row["verify_s"]),
    }
    stages["other"] = max(0.0, wall - sum(stages.values()))
    attempts = args.problems * args.n
    print(
        f"eval: {args.problems} problems x {args.n} samples, {args.model}, max_new_tokens={args.max_new_tokens}, "
        f"batch_size={args.batch_size}"
    )
    print(
        f"sampler: {int(row['new_tokens'])} new tokens in {row['sample_s']:.1f} s = {row['tokens_per_s']:.1f} tokens/s"
    )
    print(
        f"verify: {row['verify_s']:.2f} s for {attempts} samples ({int(row['extracted'])} extracted proofs) "
        f"= {row['verify_s'] / attempts * 1000:.0f} ms per sample (warm sessions)"
    )
    print(f"pass@1 = {row['pass@k']:.3f}, solved {int(row['solved'])}/{int(row['problems'])}")
    print(f"{'stage':<16}{'seconds':>9}{'share':>8}")
    for name, sec in stages.items():
        print(f"{name:<16}{sec:>9.1f}{sec / wall:>8.1%}")
    print(f"{'wall':<16}{wall:>9.1f}")


if __name__ == "__main__":
    main()
