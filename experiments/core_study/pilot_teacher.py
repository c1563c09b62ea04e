"""Pilot (core study, item 3): which feedback condition carries information SmolLM2 can use?

Criterion, declared before the run: for failed attempts of the base model on the `valid` split, sample
from the teacher (the same network, frozen = base weights: at step 0 the EMA teacher is the same)
with each condition's feedback in its context, verify every sample with Lean, and rank the
conditions by the teacher's own pass rate (proved samples / samples). The condition whose teacher
proves most is the one whose information this model can use; `none` (the student's prompt, no
feedback) is the baseline a condition must beat.

    .venv/bin/python experiments/core_study/pilot_teacher.py      # ~30 min on 2 cores; writes pilot/

Settings are the first study's (experiments/cpu_smollm2/config.yaml): 3 few-shot examples from
`valid`, temperature 1.0, <= 48 new tokens, the chat prompt with the prefilled proof block. Student:
4 samples per `valid` problem; failed attempts with an extracted proof (the critique needs one), at
most 2 per problem. Teacher: 4 samples per (attempt, condition), seeded per attempt, so every
condition sees the same random streams.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from leanfd.critic.conditions import render_feedback
from leanfd.data import few_shot_examples, load_suite
from leanfd.io import atomic_write
from leanfd.lean import Verifier
from leanfd.lean.completions import check_completions
from leanfd.models.generate import generate, make_sampler
from leanfd.train.rollout import student_prompt, teacher_prompt_text

CONDITIONS = ("none", "binary", "errors", "critique", "reference", "critique+reference")


def pilot_problems(limit: int | None = None) -> tuple[list, list]:
    """The first study's 3 few-shot examples (seed 0, from `valid`) and the other `valid` problems."""
    valid = load_suite("core", split="valid")
    examples = few_shot_examples([p for p in valid if p.reference_proof], exclude_split="test", k=3, seed=0)
    names = {p.name for p in examples}
    return examples, [p for p in valid if p.name not in names][:limit]


def student_failures(problems, examples, sampler, tok, verifier, args) -> tuple[float, list, list]:
    """The student's samples (``args.student_n`` per problem, seed ``args.seed``): its pass rate, every
    checked sample, and the failed attempts with an extracted proof (at most ``args.per_problem`` per
    problem) as (problem, checked completion) pairs."""
    gens = generate(
        problems,
        sampler,
        tok,
        n=args.student_n,
        temperature=1.0,
        top_p=1.0,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        examples=examples,
        allow_same_split=True,
    )
    items = [(g.problem, c) for g in gens for c in g.completions()]
    checked = check_completions(items, verifier.verify)
    failed, per = [], defaultdict(int)
    for (p, _), c in zip(items, checked, strict=True):
        if c.proof is not None and not c.verdict.ok and per[p.name] < args.per_problem:
            per[p.name] += 1
            failed.append((p, c))
    return sum(c.verdict.ok for c in checked) / len(checked), checked, failed


def teacher_pass(cond, failed, examples, sampler, tok, verifier, args, label: str | None = None):
    """Sample the teacher ``args.teacher_n`` times per failed attempt with ``cond``'s feedback in its
    context (the same random streams for every condition and teacher), verify every sample; return
    the summary and one row per attempt."""
    t0 = time.perf_counter()
    rows = []
    usable = [(p, c) for p, c in failed if "reference" not in cond or p.reference_proof]
    prompts = []
    for p, c in usable:
        if cond == "none":
            prompts.append(student_prompt(p, tok, examples=examples).text)
        else:
            block = render_feedback(cond, p, c.proof, c.verdict)
            prompts.append(teacher_prompt_text(p, tok, block, examples=examples))
    samples = []
    for i in range(0, len(prompts), 4):  # 4 prompts x n samples per call (the sampler's batch)
        samples += sampler.sample(
            prompts[i : i + 4],
            n=args.teacher_n,
            temperature=1.0,
            top_p=1.0,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed + 1,
            stop=("```",),
            keys=range(i, min(i + 4, len(prompts))),
        )
    tries = [
        (p, student_prompt(p, tok, examples=examples).response_prefix + s.text)
        for (p, _), ss in zip(usable, samples, strict=True)
        for s in ss
    ]
    verdicts = check_completions(tries, verifier.verify)
    proved = [v.verdict.ok for v in verdicts]
    copies = [
        v.verdict.ok and p.reference_proof and v.proof.strip() == p.reference_proof.strip()
        for (p, _), v in zip(tries, verdicts, strict=True)
    ]
    n = args.teacher_n
    attempts_helped = sum(any(proved[j * n : (j + 1) * n]) for j in range(len(usable)))
    summary = {
        "attempts": len(usable),
        "samples": len(proved),
        "proved": sum(proved),
        "pass_rate": sum(proved) / max(1, len(proved)),
        "attempts_with_a_proving_sample": attempts_helped,
        "proved_with_the_reference_text": sum(bool(x) for x in copies),
        "no_proof": sum(v.proof is None for v in verdicts),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    for j, (p, c) in enumerate(usable):
        rows.append(
            {
                "condition": cond,
                **({"teacher": label} if label else {}),
                "problem": p.name,
                "student_proof": c.proof,
                "student_status": c.verdict.status,
                "teacher_proofs": [v.proof for v in verdicts[j * n : (j + 1) * n]],
                "teacher_proved": proved[j * n : (j + 1) * n],
            }
        )
    s = summary
    print(
        f"{(label + ' ') if label else ''}{cond:20} {s['proved']:3}/{s['samples']:3} teacher samples proved ({s['pass_rate']:.1%}), "
        f"{s['attempts_with_a_proving_sample']}/{s['attempts']} attempts helped, "
        f"{s['proved_with_the_reference_text']} with the reference proof's text, {s['seconds']:.0f} s",
        flush=True,
    )
    return summary, rows


def pilot_options(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The sampling options both pilots share (pilot 2 reuses pilot 1's attempts and seeds)."""
    ap.add_argument("--out", default=str(Path(__file__).parent / "pilot"))
    ap.add_argument("--student-n", type=int, default=4)
    ap.add_argument("--teacher-n", type=int, default=4)
    ap.add_argument("--per-problem", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="first N valid problems only (a smoke run)")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    return ap


def main() -> None:
    args = pilot_options(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    examples, problems = pilot_problems(args.limit)
    sampler, tok = make_sampler("transformers", model="smollm2-135m", batch_size=16, progress=False)
    with Verifier("embedded", workers=1) as verifier:
        student_rate, checked, failed = student_failures(problems, examples, sampler, tok, verifier, args)
        print(
            f"student: {len(checked)} samples on {len(problems)} valid problems, {student_rate:.1%} proved; "
            f"{len(failed)} failed attempts with a proof kept ({time.perf_counter() - t_start:.0f} s)",
            flush=True,
        )
        # 2. the teacher under each condition, the same attempts and seeds
        rows, summary = [], {}
        for cond in CONDITIONS:
            summary[cond], cond_rows = teacher_pass(cond, failed, examples, sampler, tok, verifier, args)
            rows += cond_rows

    result = {
        # where the file lies is not a setting (and would name this machine's paths)
        "settings": {k: v for k, v in vars(args).items() if k != "out"}
        | {"few_shot": [p.name for p in examples], "valid_problems": len(problems)},
        "student": {"samples": len(checked), "pass_rate": student_rate, "failed_kept": len(failed)},
        "conditions": summary,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    atomic_write(out / "pilot_teacher.json", json.dumps(result, indent=2) + "\n")
    atomic_write(out / "pilot_teacher_rows.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {out / 'pilot_teacher.json'} ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
