"""Seconds per training step: FD vs GRPO at equal batch, and our GRPO step vs TRL's GRPOTrainer.

    python benchmarks/train_step.py [--model smollm2-135m] [--problems 2] [--group 4]
                                    [--max-new-tokens 32] [--steps 3]

Both comparisons use the same policy (SmolLM2-135M + LoRA r=16 by default), the same prompts
(core suite, ``valid`` split) and the same batch (P problems x G samples). Lean is replaced by a
rule reward on the sampled token ids (1 if their sum is even, else 0: groups have reward variance,
so GRPO trains on every row) that is identical in both trainers, so the figures compare trainer
work only: sampling, forward/backward, optimizer.
Each trainer runs ``--steps`` measured steps after one warm-up step; the median is printed.

Printed: FD and GRPO seconds per step (total and update-only) with their ratio (target FD <= 1.6x
GRPO: FD adds one no-grad teacher forward), and ours vs TRL's GRPOTrainer seconds per step with
the ratio (target: not slower), plus completion tokens per second for each.

The CPU experiment's settings instead of the flags above (its few-shot examples, new-token budget,
batch, micro-batch, LoRA, feedback and teacher; rollouts stop at the closing fence as there):

    python benchmarks/train_step.py --config experiments/cpu_smollm2/config.yaml [--naive]

Episodes (``--max-turns 2``): each attempt is a 2-turn episode in ``LeanEnv`` (the policy's turn, the
environment's reply, the policy's second turn) with a stand-in verifier that rejects every check,
so every episode runs both turns; the rule reward reads the policy's tokens only. The losses count
the policy's tokens and the teacher reads the whole episode after its feedback prompt:

    python benchmarks/train_step.py --max-turns 2 --skip-trl

``--naive`` also runs both trainers with the old sampler (``TransformersSampler(naive=True)``) and
prints old and new side by side: the trainers are the same, so the difference is the sampler's.
The 1-minute load average before and after each run is printed next to its figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from leanfd.lean.types import Verdict


def rule_reward(token_ids) -> float:
    return float(sum(token_ids) % 2 == 0)


class RejectAll:
    """Stands in for Lean in episodes: every check fails (so every episode runs all its turns)."""

    backend, policy, supports_mathlib = "none", "strict", False

    def verify(self, attempts, **kw):
        return [Verdict(False, "failed", reason="benchmark: no Lean") for _ in attempts]

    def warm_up(self, imports):
        pass

    def close(self):
        pass


def ours(method: str, args, out: Path, naive: bool = False) -> dict[str, float]:
    from leanfd.train.config import TrainConfig
    from leanfd.train.trainer import Trainer

    run = dict(
        method=method,
        out=str(out / f"{method}{'-naive' if naive else ''}"),
        steps=args.steps + 1,
        evaluate=False,
        save_every=10_000,
        tensorboard=False,
        progress=False,
        seed=args.seed,
        teacher_prefix_cache=not args.no_teacher_prefix_cache,
        student_prefix_cache=not args.no_student_prefix_cache,
    )
    if args.max_turns > 1:
        run["max_turns"] = args.max_turns
    if args.config:
        cfg = TrainConfig.from_yaml(args.config, **run)
    else:
        cfg = plain_config(args, run)
    load = os.getloadavg()[0]
    trainer = Trainer(cfg, verifier=RejectAll() if cfg.episodes else None)
    if naive:
        from leanfd.models.sampling import TransformersSampler

        trainer.sampler = TransformersSampler(
            trainer.policy, batch_size=cfg.batch_size, progress=False, naive=True
        )
    trainer._verify = lambda attempts: [Verdict(False, "failed") for _ in attempts]  # no Lean
    collect = trainer.rollouts
    sample = trainer.sampler.sample

    def sample_to_budget(*a, **kw):
        # TRL's GRPOTrainer stops at EOS only; so do we here (training rollouts normally also stop
        # at the closing ``` fence), so both trainers sample the same amount of work.
        return sample(*a, **{**kw, "stop": ()})

    def rollouts(step):
        batch = collect(step)
        for r in batch.rollouts:  # the policy's tokens only (in episodes the env's are masked out)
            r.reward = rule_reward(
                [t for t, m in zip(r.completion_ids, r.mask or [1] * len(r.completion_ids), strict=True) if m]
            )
        batch.stats["reward_mean"] = statistics.mean(r.reward for r in batch.rollouts)
        return batch

    if not args.config:
        trainer.sampler.sample = sample_to_budget

    trainer.rollouts = rollouts
    trainer.save_checkpoint = lambda *a, **k: None  # not part of a step's cost
    hist = trainer.run()[1:]  # drop the warm-up step
    rows = cfg.problems_per_step * cfg.group_size
    return {
        "step_s": statistics.median(h.metrics["step_s"] for h in hist),
        "update_s": statistics.median(h.metrics["update_s"] for h in hist),
        "sample_s": statistics.median(h.metrics["sample_s"] for h in hist),
        "tokens": statistics.median(h.metrics["completion_len_mean"] * rows for h in hist),
        "load": (load, os.getloadavg()[0]),
        "batch": f"{cfg.problems_per_step} problems x {cfg.group_size} "
        + (f"{cfg.max_turns}-turn episodes" if cfg.episodes else "samples")
        + f", <= {cfg.max_new_tokens} new "
        f"tokens, {cfg.few_shot} few-shot examples, micro-batch {cfg.micro_batch_size}, {cfg.model}"
        + (f" + LoRA r={cfg.lora_r}" if cfg.lora else ""),
    }


def plain_config(args, run: dict):
    from leanfd.train.config import TrainConfig

    return TrainConfig(
        **run,
        model=args.model,
        suite="core",
        problems_per_step=args.problems,
        group_size=args.group,
        max_new_tokens=args.max_new_tokens,
        micro_batch_size=args.problems * args.group,
        batch_size=args.problems * args.group,
        feedback="binary",
        fd_on_success=True,  # every attempt gets a teacher: the FD batch equals the GRPO batch
        sibling_demo=False,
    )


def trl_grpo(args, out: Path) -> dict[str, float]:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from leanfd.data import load_suite
    from leanfd.models.extraction import extract_proof
    from leanfd.models.policy import load_policy
    from leanfd.models.prompts import build_prompt

    policy = load_policy(args.model)
    problems = load_suite("core", split="valid")
    prompts = [build_prompt(p, policy.tokenizer) for p in problems]
    data = Dataset.from_dict(
        {
            "prompt": [p.text for p in prompts],
            "prefix": [p.response_prefix for p in prompts],
            "statement": [p.statement for p in problems],
        }
    )

    def reward(completions, completion_ids, prefix, statement, **_):
        for c, pf, st in zip(completions, prefix, statement, strict=True):
            extract_proof(pf + c, st)  # ours extracts every proof too: keep the work comparable
        return [rule_reward(ids) for ids in completion_ids]

    times: list[float] = []
    lengths: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            times.append(time.perf_counter() - self.t0)

        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "completions/mean_length" in logs:
                lengths.append(logs["completions/mean_length"])

    cfg = GRPOConfig(
        output_dir=str(out / "trl"),
        per_device_train_batch_size=args.problems * args.group,
        num_generations=args.group,
        max_completion_length=args.max_new_tokens,
        max_steps=args.steps + 1,
        learning_rate=1e-4,
        adam_beta2=0.99,
        beta=0.0,
        loss_type="grpo",
        scale_rewards="group",
        temperature=1.0,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        bf16=False,
        seed=args.seed,
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    trainer = GRPOTrainer(
        model=policy.model,
        reward_funcs=reward,
        args=cfg,
        train_dataset=data,
        processing_class=policy.tokenizer,
        peft_config=lora,
        callbacks=[Clock()],
    )
    trainer.train()
    return {
        "step_s": statistics.median(times[1:]),
        "tokens": statistics.median(lengths[1:]) * args.problems * args.group if lengths else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--problems", type=int, default=2)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-trl", action="store_true")
    ap.add_argument(
        "--max-turns",
        type=int,
        default=1,
        help="episodes of this many turns (stand-in verifier rejecting every check; implies --skip-trl)",
    )
    ap.add_argument(
        "--config",
        default=None,
        help="a train config YAML (e.g. experiments/cpu_smollm2/config.yaml) in place of the batch flags; "
        "implies --skip-trl",
    )
    ap.add_argument("--naive", action="store_true", help="also run both trainers with the old sampler")
    ap.add_argument(
        "--no-teacher-prefix-cache",
        action="store_true",
        help="FD teacher: run every row's whole prompt instead of reusing the shared prefix's KV cache",
    )
    ap.add_argument(
        "--no-student-prefix-cache",
        action="store_true",
        help="the policy's forward in the update: run every row's whole prompt (the old update)",
    )
    args = ap.parse_args()
    if args.config or args.max_turns > 1:
        args.skip_trl = True
    runs = {}
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        for naive in (False, True) if args.naive else (False,):
            tag = " (old sampler)" if naive else ""
            runs[f"ours FD{tag}"] = ours("fd", args, out, naive)
            runs[f"ours GRPO{tag}"] = ours("grpo", args, out, naive)
        trl = None if args.skip_trl else trl_grpo(args, out)
    fd, grpo = runs["ours FD"], runs["ours GRPO"]
    print(f"batch: {fd['batch']}; median of {args.steps} steps after 1 warm-up")
    print(f"{'':26}{'step s':>10}{'update s':>10}{'sample s':>10}{'tok/s':>10}{'load avg before/after':>24}")
    for name, r in runs.items():
        print(
            f"{name:26}{r['step_s']:10.2f}{r['update_s']:10.2f}{r['sample_s']:10.2f}{r['tokens'] / r['step_s']:10.1f}"
            f"{r['load'][0]:>16.2f} / {r['load'][1]:.2f}"
        )
    if trl is not None:
        print(
            f"{'TRL GRPOTrainer':26}{trl['step_s']:10.2f}{'':>10}{'':>10}{trl['tokens'] / trl['step_s']:10.1f}"
        )
    print(
        f"FD / GRPO step time: {fd['step_s'] / grpo['step_s']:.2f}x (update only {fd['update_s'] / grpo['update_s']:.2f}x; target <= 1.6x)"
    )
    if args.naive:
        for m in ("FD", "GRPO"):
            new, old = runs[f"ours {m}"], runs[f"ours {m} (old sampler)"]
            print(
                f"{m} step, new / old sampler: {new['step_s'] / old['step_s']:.2f}x "
                f"(sampling {new['sample_s'] / old['sample_s']:.2f}x)"
            )
    if trl is not None:
        print(
            f"ours GRPO / TRL GRPO step time: {grpo['step_s'] / trl['step_s']:.2f}x "
            f"(per completion token {(grpo['step_s'] / grpo['tokens']) / (trl['step_s'] / trl['tokens']):.2f}x; target <= 1.0x)"
        )


if __name__ == "__main__":
    main()
