"""Pilot 2 (core study, item 3): a frozen or an EMA teacher?

Criterion, declared before the run: on the failed `valid` attempts of pilot 1 (the base model's, the
same seeds), sample each teacher with the chosen feedback condition (`reference`, pilot 1) in its
context and verify every sample; the teacher with the higher pass rate is used in the main runs.
A tie (the paired bootstrap interval of EMA - frozen over attempts holds 0) keeps the EMA teacher:
the FD paper's and SDPO's teacher, and config.yaml's default. `none` (the student's own prompt) is
measured for each teacher as the bar.

The teachers come from one FD run with the main runs' settings (config.yaml, seed 0), stopped at a
checkpoint after K steps:
- frozen: the base weights (the LoRA adapter disabled), what `--teacher frozen` uses at any step;
- ema: the EMA shadow of the adapter the trainer kept at step K (rate 0.05 per step);
- student: the trained adapter at step K (the `live` teacher); the EMA lies between it and frozen.

    .venv/bin/leanfd train --config experiments/core_study/config.yaml --method fd --steps 6 \\
        --save-every 6 --no-evaluate --out RUN
    .venv/bin/python experiments/core_study/pilot_ema.py RUN/checkpoints/step-000006
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from pilot_teacher import pilot_options, pilot_problems, student_failures, teacher_pass

from leanfd.eval.bootstrap import paired_difference
from leanfd.io import atomic_write
from leanfd.lean import Verifier
from leanfd.models.policy import load_policy
from leanfd.models.sampling import TransformersSampler
from leanfd.train.teacher import EMATeacher, teacher_weights

TEACHERS = {"frozen": "frozen", "ema": "ema", "student": "live"}  # label -> leanfd teacher kind
CONDITIONS = ("reference", "none")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a `leanfd train --teacher ema` checkpoint directory (step-*)")
    args = pilot_options(ap).parse_args()
    ckpt = Path(args.checkpoint)
    state_file = ckpt / "trainer_state.pt"
    if not state_file.is_file() or not (ckpt / "adapter").is_dir():
        raise SystemExit(f"{ckpt} is not a LoRA training checkpoint (trainer_state.pt and adapter/ expected)")
    state = torch.load(state_file, map_location="cpu", weights_only=False)
    if state["ema"] is None:
        raise SystemExit(f"{ckpt} holds no EMA teacher: train with --teacher ema")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    policy = load_policy("smollm2-135m", adapter=ckpt / "adapter")  # the student at step K, not merged
    model = policy.model
    model.eval()
    for n, p in model.named_parameters():  # the adapter's weights are the ones the trainer shadowed
        p.requires_grad_("lora_" in n)
    ema = EMATeacher(model, 0.0)
    if set(ema.shadow) != set(state["ema"]):
        raise SystemExit(f"{ckpt}: its EMA shadow names other weights than its adapter holds")
    ema.load_state_dict(state["ema"])
    drift = {
        "ema_vs_frozen": _norm(state["ema"]),
        "student_vs_frozen": _norm({n: p.detach() for n, p in model.named_parameters() if n in ema.shadow}),
    }
    sampler = TransformersSampler(policy, batch_size=16, progress=False)
    tok = policy.tokenizer
    examples, problems = pilot_problems(args.limit)

    with Verifier("embedded", workers=1) as verifier, torch.no_grad():
        with teacher_weights("frozen", model, None):  # the base model's attempts, as in pilot 1
            student_rate, checked, failed = student_failures(problems, examples, sampler, tok, verifier, args)
        print(
            f"student (base weights): {len(checked)} samples, {student_rate:.1%} proved; "
            f"{len(failed)} failed attempts kept ({time.perf_counter() - t_start:.0f} s)",
            flush=True,
        )
        rows, summary, per_attempt = [], {}, {}
        for label, kind in TEACHERS.items():
            for cond in CONDITIONS:
                with teacher_weights(kind, model, ema if kind == "ema" else None):
                    s, r = teacher_pass(cond, failed, examples, sampler, tok, verifier, args, label=label)
                summary[f"{label}/{cond}"] = s
                rows += r
                per_attempt[(label, cond)] = np.array([[np.mean(x["teacher_proved"])] for x in r])

    comparisons = {}
    for cond in CONDITIONS:
        for label in ("ema", "student"):
            d = paired_difference(per_attempt[("frozen", cond)], per_attempt[(label, cond)], ks=[1], b=2000)
            comparisons[f"{label}-frozen/{cond}"] = {
                "diff": float(d.diff[0]),
                "lo": float(d.lo[0]),
                "hi": float(d.hi[0]),
                "resampled": "failed attempts (paired)",
            }
    result = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "checkpoint")}
        | {"checkpoint_step": int(state["step"]), "ema_rate": state["config"]["ema_rate"]},
        "weight_distance": drift,
        "student": {"samples": len(checked), "pass_rate": student_rate, "failed_kept": len(failed)},
        "teachers": summary,
        "comparisons": comparisons,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    atomic_write(out / "pilot_ema.json", json.dumps(result, indent=2) + "\n")
    atomic_write(out / "pilot_ema_rows.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    print(json.dumps(comparisons, indent=2))
    print(f"wrote {out / 'pilot_ema.json'} ({result['wall_s']:.0f} s)")


def _norm(weights: dict[str, torch.Tensor]) -> float:
    """How far the adapter is from the base model: the Frobenius norm of the LoRA update B @ A summed
    over adapted layers, without the alpha / r scale (B starts at zero: the frozen teacher is at 0)."""
    total = 0.0
    for name, a in weights.items():
        if ".lora_A." in name:
            b = weights[name.replace(".lora_A.", ".lora_B.")]
            total += float(torch.linalg.matrix_norm(b.float() @ a.float()) ** 2)
    return total**0.5


if __name__ == "__main__":
    main()
