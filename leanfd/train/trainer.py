"""Train a Lean 4 prover with Feedback Distillation (FD), GRPO, or FD then GRPO, against real Lean.

Read top to bottom: ``train(cfg)`` builds everything, then ``Trainer.run`` loops over steps; each
step samples G attempts for P problems, verifies them in one batch, and takes one (or
``updates_per_batch``) optimizer step on the FD loss (student vs a feedback-conditioned
self-teacher) or the GRPO loss (group-relative advantages from the verifier's binary reward). This
file is the loop; losses live in ``losses.py``, rollouts in ``rollout.py``, the teacher's weights
in ``teacher.py``, checkpoints in ``checkpoint.py`` and the logs (metrics.csv, TensorBoard,
rollouts.jsonl) in ``runlog.py``.

Launching (the same code everywhere; accelerate picks the device and the distribution)::

    # CPU (transformers rollouts, embedded Lean)
    leanfd train --method fd --suite core --model smollm2-135m --steps 20 --out runs/fd
    # one GPU: vLLM rollouts with weights synced after every update
    leanfd train --method grpo --sampler vllm --dtype bfloat16 --out runs/grpo ...
    # many GPUs on one node (DDP; or fsdp.yaml / deepspeed_zero2.yaml)
    accelerate launch --config_file configs/accelerate/ddp.yaml -m leanfd.cli train --method fd ...
    # many nodes: the same on every node, with the node's rank
    accelerate launch --config_file configs/accelerate/fsdp.yaml --num_machines 2 --machine_rank $RANK \\
        --main_process_ip $HEAD_IP --main_process_port 29500 -m leanfd.cli train --method fd ...

With N processes each one samples and trains on its own P problems (the effective batch is N*P
problems); Lean verification can be moved off the GPU nodes with ``leanfd serve`` replicas.

How this deviates from vanilla GRPO (DeepSeekMath), nanochat style:

1. No KL to a reference by default (``beta=0``, as in DAPO / Dr. GRPO); with ``--beta`` > 0 the
   reference is the LoRA-disabled base model (k3 estimator).
2. Strictly on-policy by default (``updates_per_batch=1``): the ratio is 1 and the clip inactive;
   PPO-style reuse (μ > 1) is available and then the ratio is against the pre-update policy.
3. Advantage std can be per group (default), per batch, or dropped (Dr. GRPO); groups whose G
   attempts all got the same reward give zero advantage and are skipped in the backward pass
   (exactly: they contribute 0 to the loss); their fraction is logged.
4. Binary verifier reward only (1 proved, 0 otherwise, including "no proof extracted"); no format
   or length reward.
5. Micro-batches accumulate gradients weighted so the sum equals the full-batch gradient of the
   chosen aggregation (not the mean of micro-batch losses).
6. The learning-rate schedule is a pure function of the step (no scheduler object to save), so a
   resumed run uses exactly the schedule of an uninterrupted one.
7. Rollouts stop at the ``` that closes the prefilled proof block (as ``leanfd eval`` does):
   extraction ignores what follows, so those tokens would cost compute and carry no reward.
8. Optional few-shot examples (``--few-shot``) are solved training problems removed from the
   training stream, shown in every training and evaluation prompt alike.

FD in this loop: the teacher is the same network (EMA / frozen / live weights) given the prompt,
a feedback block about the student's own attempt and "Correctly solve the original question.",
then scored on the student's tokens; only failed attempts (optionally also proved ones) get a
teacher. ``fd-grpo`` runs FD for ``fd_steps`` then GRPO from FD's last weights with a fresh
optimizer, as if launched from FD's last checkpoint, in one run.

Episodes (``max_turns`` > 1 or ``tools``): each attempt is a multi-turn episode in the agentic
environment, played in lockstep (``episodes.py``); the same losses then count the policy's tokens
only (the rollout's ``mask``), and the teacher reads the episode after a prompt holding the feedback.
"""

from __future__ import annotations

import contextlib
import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from leanfd.data.problem import Problem
from leanfd.io import atomic_write
from leanfd.train import checkpoint
from leanfd.train import losses as L
from leanfd.train.config import TrainConfig
from leanfd.train.episodes import collect_episode_rollouts, episode_columns
from leanfd.train.rollout import (
    Rollout,
    RolloutBatch,
    collect_rollouts,
    completion_logits,
    completion_logits_reusing_prefix,
    critic_feedback,
    pack,
)
from leanfd.train.runlog import METRIC_COLUMNS, RunLog, reduce_over_ranks, say
from leanfd.train.teacher import make_ema, teacher_weights

# ------------------------------------------------------------------------------------- data order


class ProblemStream:
    """An endless, seeded stream of problems: a fresh permutation per epoch. Its ``state`` (epoch,
    position) is saved in checkpoints, so a resumed run sees the same problems in the same order."""

    def __init__(self, problems: Sequence[Problem], seed: int) -> None:
        if not problems:
            raise ValueError("no training problems: check --suite and --train-split")
        self.problems = list(problems)
        self.seed = seed
        self.epoch = 0
        self.pos = 0

    def _order(self) -> list[int]:
        idx = list(range(len(self.problems)))
        random.Random(self.seed * 7919 + self.epoch).shuffle(idx)
        return idx

    def next(self, n: int) -> list[Problem]:
        out = []
        order = self._order()
        for _ in range(n):
            if self.pos >= len(order):
                self.epoch, self.pos = self.epoch + 1, 0
                order = self._order()
            out.append(self.problems[order[self.pos]])
            self.pos += 1
        return out

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load(self, state: dict[str, int]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])


# ------------------------------------------------------------------------------------- the run


@dataclass
class UpdatePlan:
    """Which rows of a rollout batch train, in which micro-batches, and how their losses add up."""

    phase: str
    advantages: torch.Tensor | None  # (rows,), GRPO only
    zero_var_frac: float  # fraction of groups whose G attempts all got the same reward
    micro_batches: list[list[int]]  # indices of the training rows
    aggregation: str  # of the phase's loss (losses.AGGREGATIONS)
    n_seq: int  # sequences a sequence-mean aggregation averages over
    n_tok: int  # completion tokens of the training rows (the policy's only, in episodes)

    def weight(self, rs: Sequence[Rollout]) -> float:
        """The share of micro-batch ``rs`` in the full-batch loss, so its gradients accumulate to
        the full-batch gradient (not the mean of micro-batch losses)."""
        if self.aggregation == "token-mean":
            return sum(r.policy_tokens for r in rs) / max(1, self.n_tok)
        return len(rs) / max(1, self.n_seq)


@dataclass
class StepResult:
    """What one step produced (the trainer's return value for tests and benchmarks)."""

    step: int
    phase: str
    metrics: dict[str, Any]


def micro_batches(rows: Sequence[Rollout], active: Sequence[int], size: int, tokens: int) -> list[list[int]]:
    """``active`` (row indices, in order) cut into micro-batches of at most ``size`` rows and, when
    ``tokens`` > 0, at most ``tokens`` padded tokens (rows x (longest prompt + longest completion),
    as ``pack`` lays them out; a longer row goes alone). Any cut gives the same summed gradient
    (:meth:`UpdatePlan.weight`); the token cap bounds memory when sequences are long (episodes).

    >>> from types import SimpleNamespace as R
    >>> rows = [R(prompt_ids=[0] * 10, completion_ids=[0] * n) for n in (10, 10, 90, 10)]
    >>> micro_batches(rows, [0, 1, 2, 3], size=8, tokens=200)
    [[0, 1], [2, 3]]
    >>> micro_batches(rows, [0, 1, 2, 3], size=8, tokens=0)
    [[0, 1, 2, 3]]
    """
    out: list[list[int]] = []
    cur: list[int] = []
    lp = lc = 0
    for i in active:
        p, c = len(rows[i].prompt_ids), len(rows[i].completion_ids)
        if cur and (len(cur) == size or (tokens and (len(cur) + 1) * (max(lp, p) + max(lc, c)) > tokens)):
            out.append(cur)
            cur, lp, lc = [], 0, 0
        cur.append(i)
        lp, lc = max(lp, p), max(lc, c)
    if cur:
        out.append(cur)
    return out


def _lr_at(cfg: TrainConfig, step: int, phase_start: int, phase_steps: int) -> float:
    """The learning rate for ``step``: warmup, then constant / linear / cosine decay within a phase."""
    s = step - phase_start
    if cfg.warmup_steps and s < cfg.warmup_steps:
        return cfg.lr * (s + 1) / cfg.warmup_steps
    frac = (s - cfg.warmup_steps) / max(1, phase_steps - cfg.warmup_steps)
    if cfg.lr_scheduler == "linear":
        return cfg.lr * (1.0 - frac)
    if cfg.lr_scheduler == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * frac))
    return cfg.lr


class Trainer:
    """One training run. ``Trainer(cfg).run()``; tests pass a ``policy`` and a warm ``verifier``."""

    def __init__(self, cfg: TrainConfig, *, policy=None, verifier=None):
        from accelerate import Accelerator

        self.cfg = cfg
        self.out = Path(cfg.out)
        self.acc = Accelerator()
        self._own_verifier = False
        self.verifier = verifier
        self._load_data()
        self._build_model(policy)
        self.stream = ProblemStream(self.train_problems, cfg.seed)
        self.step = 0
        self.history: list[StepResult] = []
        self.log = RunLog(
            self.out,
            main=self.acc.is_main_process,
            steps=cfg.steps,
            rank=self.acc.process_index,
            world=self.acc.num_processes,
            tensorboard=cfg.tensorboard,
            log_rollouts=cfg.log_rollouts,
            columns=METRIC_COLUMNS + (episode_columns(cfg.max_turns) if cfg.episodes else []),
        )

    # ----------------------------------------------------------------------------- setup

    def _load_data(self) -> None:
        from leanfd.data import load_suite

        cfg = self.cfg
        self.train_problems = load_suite(cfg.suite, split=cfg.train_split, limit=cfg.train_limit)
        #: few-shot examples for every training and evaluation prompt: solved training problems,
        #: taken out of the training stream so no question is asked with its own answer shown.
        self.examples: list[Problem] = []
        if cfg.few_shot:
            from leanfd.data import few_shot_examples

            # few_shot_examples excludes one split; passing the eval split keeps them held-out-free,
            # and the pool is then restricted to the (possibly limited) training problems.
            pool = [p for p in self.train_problems if p.reference_proof]
            self.examples = few_shot_examples(
                pool,
                exclude_split=cfg.eval_split,
                k=cfg.few_shot,
                seed=cfg.shot_seed,
            )
            names = {p.name for p in self.examples}
            self.train_problems = [p for p in self.train_problems if p.name not in names]
            if not self.train_problems:
                raise ValueError(
                    f"few_shot={cfg.few_shot} takes every training problem as an example; lower "
                    "--few-shot or raise --train-limit"
                )
        self.eval_problems: list[Problem] = (
            [] if not cfg.evaluate else load_suite(cfg.suite, split=cfg.eval_split, limit=cfg.eval_limit)
        )

    def _build_model(self, policy) -> None:
        from leanfd.models.policy import Policy, load_policy

        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        if policy is None:
            policy = load_policy(cfg.model, dtype=cfg.dtype)
        model, self.tokenizer = policy.model, policy.tokenizer
        if self.tokenizer.pad_token_id is None:
            raise ValueError(
                f"the tokenizer of {cfg.model!r} has no pad token; load it with leanfd.models.load_policy"
            )
        if cfg.lora:
            from peft import LoraConfig, get_peft_model

            targets = cfg.lora_target_modules
            lora = LoraConfig(
                r=cfg.lora_r,
                lora_alpha=cfg.lora_alpha,
                lora_dropout=cfg.lora_dropout,
                target_modules=targets
                if targets == "all-linear"
                else [t.strip() for t in targets.split(",")],
                task_type="CAUSAL_LM",
            )
            model = get_peft_model(model, lora)
        else:
            for p in model.parameters():
                p.requires_grad_(True)
        if cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable()
            if cfg.lora:
                model.enable_input_require_grads()
        model.train()
        self.params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            self.params, lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2), weight_decay=cfg.weight_decay
        )
        self.model, self.optimizer = self.acc.prepare(model, optimizer)
        self.ema = None  # the teacher's shadow weights, where its kind needs them (teacher.py)
        if cfg.method != "grpo":
            self.ema = make_ema(cfg.teacher, self.unwrapped, lora=cfg.lora, rate=cfg.ema_rate)
        self.policy = Policy(model=self.unwrapped, tokenizer=self.tokenizer, name=policy.name)
        self.sampler = self._make_sampler()

    @property
    def unwrapped(self) -> torch.nn.Module:
        return self.acc.unwrap_model(self.model)

    def _make_sampler(self):
        cfg = self.cfg
        if cfg.sampler == "vllm":
            from leanfd.train.vllm_sync import VLLMRollouts

            return VLLMRollouts(self.unwrapped, cfg)
        from leanfd.models.generate import make_sampler

        sampler, _ = make_sampler(
            "transformers", policy=self.policy, batch_size=cfg.batch_size, progress=False
        )
        return sampler

    def _get_verifier(self):
        if self.verifier is None:
            from leanfd.lean import Verifier
            from leanfd.lean.daemon import running as running_daemon

            cfg = self.cfg
            # A warm daemon (leanfd daemon start) verifies for us: no sessions of our own beside it.
            # Not for episodes: their tools call the verifier with its own defaults (policy included).
            daemon = None if cfg.episodes else running_daemon(cfg.backend)
            self.verifier = daemon or Verifier(
                cfg.backend,
                cfg.workers,
                timeout_s=cfg.timeout_s,
                heartbeats=cfg.heartbeats,
                policy=cfg.verify_policy,
            )
            self._own_verifier = True
        elif self.cfg.episodes and getattr(self.verifier, "policy", "strict") != self.cfg.verify_policy:
            raise ValueError(
                f"--policy {self.cfg.verify_policy}: episodes are judged by the verifier's own preset "
                f"({getattr(self.verifier, 'policy', 'strict')}); pass a Verifier(policy="
                f"{self.cfg.verify_policy!r})"
            )
        return self.verifier

    def _start_lean(self) -> None:
        """Start the verifier's sessions in the background; :meth:`_verify` waits for them."""
        from leanfd.lean.background import BackgroundStart
        from leanfd.lean.verify import split_header

        imports = {split_header(p.header)[0] for p in self.train_problems}
        self._lean_start = BackgroundStart(self._get_verifier(), imports)

    def _wait_for_lean(self):
        """The verifier, once its sessions started in the background are up."""
        start = getattr(self, "_lean_start", None)
        if start is not None and start.waited_s is None:
            start.wait()
        return self._get_verifier()

    def _verify(self, attempts):
        self._wait_for_lean()
        cfg = self.cfg  # passed each call: a daemon's verifier has its own defaults
        return self._get_verifier().verify(
            attempts, timeout_s=cfg.timeout_s, heartbeats=cfg.heartbeats, policy=cfg.verify_policy
        )

    # ----------------------------------------------------------------------------- phases

    def phase_of(self, step: int) -> str:
        cfg = self.cfg
        if cfg.method == "fd-grpo":
            return "fd" if step < (cfg.fd_steps or 0) else "grpo"
        return cfg.method

    def _phase_bounds(self, step: int) -> tuple[int, int]:
        cfg = self.cfg
        if cfg.method != "fd-grpo":
            return 0, cfg.steps
        fd = cfg.fd_steps or 0
        return (0, fd) if step < fd else (fd, cfg.steps - fd)

    # ----------------------------------------------------------------------------- the loop

    def run(self) -> list[StepResult]:
        cfg = self.cfg
        if cfg.resume:
            ckpt = self.latest_checkpoint() if cfg.resume == "auto" else Path(cfg.resume)
            if ckpt is not None:
                self.load_checkpoint(ckpt)
        main = self.acc.is_main_process
        self._start_lean()  # overlaps the first rollouts' sampling
        self.log.open(self.step)
        if main:
            atomic_write(self.out / "config.yaml", cfg.to_yaml())
        from tqdm.auto import tqdm

        if main and self.step == 0 and cfg.evaluate and cfg.eval_before:
            self.evaluate("before")
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            desc=f"train {cfg.method}",
            disable=not (cfg.progress and main),
        )
        try:
            while self.step < cfg.steps:
                if cfg.method == "fd-grpo" and self.step == cfg.fd_steps:
                    self.save_checkpoint("fd-final")
                    # GRPO starts from FD's weights with a fresh optimizer, as if launched from fd-final
                    for st in self.optimizer.state.values():
                        st.clear()
                result = self.train_step(self.step)
                self.step += 1
                self.history.append(result)
                self.log.step(result.metrics, echo=self.step % cfg.log_every == 0)
                bar.update(1)
                bar.set_postfix(
                    phase=result.phase,
                    reward=f"{result.metrics['reward_mean']:.2f}",
                    loss=f"{result.metrics['loss']:.4f}",
                )
                if self.step % cfg.save_every == 0 or self.step == cfg.steps:
                    self.save_checkpoint()
                if (
                    main
                    and cfg.eval_every
                    and self.step % cfg.eval_every == 0
                    and self.step < cfg.steps
                    and cfg.evaluate
                ):
                    self.evaluate(f"step-{self.step:06d}")
            if main and cfg.evaluate:
                self.evaluate("after")
        finally:
            bar.close()
            self.log.close()
            self._lean_start.join()  # closing under a start still in progress would leak its sessions
            if self._own_verifier and self.verifier is not None:
                self.verifier.close()
        return self.history

    # ----------------------------------------------------------------------------- one step

    def train_step(self, step: int) -> StepResult:
        t0 = time.perf_counter()
        phase = self.phase_of(step)
        batch = self.rollouts(step)
        t1 = time.perf_counter()
        m = self.update(step, batch)
        t2 = time.perf_counter()
        s = batch.stats
        nan = float("nan")
        row = {
            "step": step + 1,
            "phase": phase,
            "reward_mean": s["reward_mean"],
            "zero_var_frac": m["zero_var_frac"],
            "loss": m["loss"],
            "entropy": s["sample_entropy"],
            "kl_student_teacher": m.get("fd_kl", nan),
            "clip_frac": m.get("clip_frac", nan),
            "approx_kl": m.get("approx_kl", nan),
            "teacher_frac": s["teacher_frac"],
            "teacher_logp_gap": m.get("teacher_logp_gap", nan),
            "grad_norm": m["grad_norm"],
            "lr": m["lr"],
            "completion_len_mean": s["completion_len_mean"],
            "no_proof_frac": s["no_proof_frac"],
            "tokens_per_s": (s["completion_tokens"] + m["train_tokens"]) / max(1e-9, t2 - t0),
            "sample_s": batch.sample_s,
            "verify_s": batch.verify_s,
            "update_s": t2 - t1,
            "step_s": t2 - t0,
            "ref_kl": m.get("ref_kl", nan),
            "ratio_mean": m.get("ratio_mean", nan),
            "is_weight_mean": m.get("is_weight_mean", nan),
            "fd_div": m.get("fd_div", nan),
            "student_entropy": m.get("student_entropy", nan),
        }
        if self.cfg.episodes:
            row.update({c: s[c] for c in episode_columns(self.cfg.max_turns)})
        self.log.rollouts(step + 1, phase, batch)
        # under DDP each rank saw its own problems: the step's metrics are those of all ranks
        return StepResult(step + 1, phase, reduce_over_ranks(self.acc, row))

    def rollouts(self, step: int) -> RolloutBatch:
        """This rank's share of step ``step``'s problems, sampled, verified and (in FD) given feedback."""
        cfg = self.cfg
        world, rank = self.acc.num_processes, self.acc.process_index
        problems = self.stream.next(cfg.problems_per_step * world)[rank::world]
        fd = self.phase_of(step) == "fd"
        # what single attempts and episodes sample and reward alike
        common = dict(
            sampler=self.sampler,
            tokenizer=self.tokenizer,
            group_size=cfg.group_size,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_new_tokens=cfg.max_new_tokens,
            seed=cfg.seed * 1_000_003 + step * world + rank,
            feedback_on_success=cfg.fd_on_success,
            sibling_demos=cfg.sibling_demo,
        )
        self.unwrapped.eval()
        try:
            if cfg.episodes:
                return collect_episode_rollouts(
                    problems,
                    verifier=self._wait_for_lean(),
                    max_turns=cfg.max_turns,
                    tools=cfg.tools,
                    max_episode_tokens=cfg.max_episode_tokens,
                    timeout_s=cfg.timeout_s,
                    turn_cost=cfg.turn_cost,
                    feedback=cfg.feedback if fd else None,
                    **common,
                )
            return collect_rollouts(
                problems,
                verify=self._verify,
                feedback=critic_feedback(cfg.feedback) if fd else None,
                prompt_style=cfg.prompt,
                examples=self.examples,
                **common,
            )
        finally:
            self.unwrapped.train()

    def update(self, step: int, batch: RolloutBatch) -> dict[str, float]:
        """The optimizer step(s) on one rollout batch (``updates_per_batch`` passes); returns the
        diagnostics of the last pass."""
        cfg = self.cfg
        old = None
        if cfg.updates_per_batch > 1:  # the ratio / IS weight is against the pre-update policy
            rows = batch.rollouts
            old = {
                tuple(mb): self._old_logps([rows[i] for i in mb])
                for mb in self._plan(step, batch).micro_batches
            }
        lr = _lr_at(cfg, step, *self._phase_bounds(step))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        grad_norm = 0.0
        for _ in range(cfg.updates_per_batch):
            metrics = self.backward(step, batch, old)
            if metrics["train_tokens"] > 0 or self.acc.num_processes > 1:  # ranks step together
                if cfg.max_grad_norm > 0:
                    grad_norm = float(self.acc.clip_grad_norm_(self.params, cfg.max_grad_norm))
                self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        metrics["grad_norm"] = grad_norm
        metrics["lr"] = lr
        if self.phase_of(step) == "fd" and self.ema is not None:
            self.ema.update(self.unwrapped)
        if cfg.sampler == "vllm":
            self.sampler.sync_weights()
        return metrics

    def backward(self, step: int, batch: RolloutBatch, old: dict | None = None) -> dict[str, float]:
        """Accumulate one pass of gradients over ``batch`` (micro-batch by micro-batch).

        Micro-batch losses are weighted so the summed gradient equals the gradient of the loss on the
        whole batch under the chosen aggregation (:meth:`UpdatePlan.weight`). Returns ``loss`` and
        the loss diagnostics, averaged with the same weights over the rows that trained.
        """
        plan = self._plan(step, batch)
        rows, mbs = batch.rollouts, plan.micro_batches
        loss = weight = 0.0
        sums: dict[str, float] = {}
        for j, mb in enumerate(mbs):
            rs = [rows[i] for i in mb]
            w = plan.weight(rs)
            o = (old or {}).get(tuple(mb))
            last = j == len(mbs) - 1
            with contextlib.nullcontext() if last else self.acc.no_sync(self.model):
                if plan.phase == "grpo":
                    out = self._grpo_micro_loss(rs, plan.advantages[mb], o)
                else:
                    out = self._fd_micro_loss(rs, o)
                self.acc.backward(out.loss * w)
            loss += float(out.loss.detach()) * w
            weight += w
            for k, v in out.metrics.items():
                sums[k] = sums.get(k, 0.0) + v * w
        if not mbs and self.acc.num_processes > 1:
            # every rank must join DDP's gradient all-reduce, even with nothing to learn from
            self.acc.backward(sum(p.sum() for p in self.params) * 0.0)
        # GRPO's skipped zero-advantage rows add 0 to the loss, but a diagnostic (ratio, clip
        # fraction) is a mean over the tokens it was measured on: normalise by the rows that ran
        diagnostics = {k: v / weight for k, v in sums.items()}
        return {
            "loss": loss,
            **diagnostics,
            "zero_var_frac": plan.zero_var_frac,
            "train_tokens": float(plan.n_tok),
        }

    def _plan(self, step: int, batch: RolloutBatch) -> UpdatePlan:
        cfg = self.cfg
        phase = self.phase_of(step)
        rows = batch.rollouts
        if phase == "grpo":
            adv, zero = L.compute_advantages(batch.rewards, cfg.group_size, cfg.adv_scale)
            # zero-advantage rows add exactly 0 to the loss unless a KL term is on: skip their compute
            active = [i for i in range(len(rows)) if cfg.beta > 0 or float(adv[i]) != 0.0]
            aggregation, n_seq = cfg.grpo_aggregation, len(rows)
        else:
            adv = None
            _, zero = L.compute_advantages(batch.rewards, cfg.group_size, "none")
            active = [i for i, r in enumerate(rows) if r.teacher_prompt_ids is not None]
            aggregation, n_seq = cfg.fd_aggregation, len(active)
        m = cfg.micro_batch_size
        return UpdatePlan(
            phase=phase,
            advantages=adv,
            zero_var_frac=float(zero.float().mean()),
            micro_batches=micro_batches(rows, active, m, cfg.micro_batch_tokens),
            aggregation=aggregation,
            n_seq=n_seq,
            n_tok=sum(rows[i].policy_tokens for i in active),
        )

    def _policy_logits(self, model, packed, prompts, completions) -> torch.Tensor:
        """The policy's completion logits for a micro-batch: with ``student_prefix_cache`` the prompts'
        shared prefix runs once (gradient flows into it once per row, as through separate copies).
        DDP expects one forward per backward, so several processes take the plain forward."""
        if self.cfg.student_prefix_cache and self.acc.num_processes == 1:
            return completion_logits_reusing_prefix(
                model, prompts, completions, self.tokenizer.pad_token_id, self.acc.device
            )
        return completion_logits(model, packed)

    def _grpo_micro_loss(
        self, rs: list[Rollout], adv: torch.Tensor, old: torch.Tensor | None
    ) -> L.LossOutput:
        cfg = self.cfg
        dev = self.acc.device
        prompts, completions = [r.prompt_ids for r in rs], [r.completion_ids for r in rs]
        # an episode's environment tokens are context: mask 0, no loss term counts them
        packed = pack(prompts, completions, self.tokenizer.pad_token_id, [r.mask for r in rs]).to(dev)
        logits = self._policy_logits(self.model, packed, prompts, completions)
        logp = L.token_logprobs(logits, packed.completion_ids, cfg.temperature)
        mask = packed.completion_mask.float()
        ref = None
        if cfg.beta > 0:
            with torch.no_grad(), self.unwrapped.disable_adapter():
                ref_logits = self._policy_logits(self.unwrapped, packed, prompts, completions)
                ref = L.token_logprobs(ref_logits, packed.completion_ids, cfg.temperature)
        return L.grpo_loss(
            logp,
            logp.detach() if old is None else old.to(dev),
            adv.to(dev),
            mask,
            eps_low=cfg.eps_low,
            eps_high=cfg.eps_high,
            ref_logp=ref,
            beta=cfg.beta,
            aggregation=cfg.grpo_aggregation,
            max_len=cfg.max_policy_tokens,
        )

    def _fd_micro_loss(self, rs: list[Rollout], old: torch.Tensor | None) -> L.LossOutput:
        cfg = self.cfg
        dev = self.acc.device
        pad = self.tokenizer.pad_token_id
        completions = [r.completion_ids for r in rs]
        teacher_prompts = [r.teacher_prompt_ids for r in rs]
        # teacher first: the EMA swap must precede the student graph
        with torch.no_grad(), teacher_weights(cfg.teacher, self.unwrapped, self.ema):
            if cfg.teacher_prefix_cache:
                t_logits = completion_logits_reusing_prefix(
                    self.unwrapped, teacher_prompts, completions, pad, dev
                )
            else:
                t_logits = completion_logits(self.unwrapped, pack(teacher_prompts, completions, pad).to(dev))
        prompts = [r.prompt_ids for r in rs]
        student_in = pack(prompts, completions, pad, [r.mask for r in rs]).to(dev)
        s_logits = self._policy_logits(self.model, student_in, prompts, completions)
        return L.fd_loss(
            s_logits,
            t_logits,
            student_in.completion_ids,
            student_in.completion_mask.float(),
            divergence=cfg.divergence,
            alpha=cfg.jsd_alpha,
            estimator=cfg.fd_estimator,
            topk=cfg.fd_topk,
            temperature=cfg.temperature,
            old_logp=None if old is None else old.to(dev),
            is_cap=cfg.is_cap,
            aggregation=cfg.fd_aggregation,
            max_len=cfg.max_policy_tokens,
        )

    @torch.no_grad()
    def _old_logps(self, rs: list[Rollout]) -> torch.Tensor:
        prompts, completions = [r.prompt_ids for r in rs], [r.completion_ids for r in rs]
        packed = pack(prompts, completions, self.tokenizer.pad_token_id).to(self.acc.device)
        logits = self._policy_logits(self.model, packed, prompts, completions)
        return L.token_logprobs(logits, packed.completion_ids, self.cfg.temperature)

    # ----------------------------------------------------------------------------- eval

    def evaluate(self, tag: str) -> dict[str, float]:
        """pass@k and entropy on the held-out split with ``leanfd.eval`` (on the policy being
        trained, transformers sampler); the run goes to ``eval/<tag>/`` (samples.jsonl,
        summary.csv, passk.png: ``leanfd plot`` overlays them) and into the run's logs."""
        from leanfd.eval.evaluate import EvalConfig, evaluate

        cfg = self.cfg
        if not self.eval_problems:
            return {}
        run_dir = self.out / "eval" / tag
        shutil.rmtree(run_dir, ignore_errors=True)  # a re-run of this tag (after resume) starts clean
        ecfg = EvalConfig(
            out=run_dir,
            suite=cfg.suite,
            split=cfg.eval_split,
            model=f"{self.policy.name}@{tag}",
            n=cfg.eval_n,
            ks=tuple(cfg.eval_ks),
            limit=cfg.eval_limit,
            temperature=cfg.eval_temperature,
            top_p=1.0,
            max_new_tokens=cfg.max_new_tokens,
            seed=cfg.seed,  # the same sampling randomness at every checkpoint
            backend=cfg.backend,
            timeout_s=cfg.timeout_s,
            heartbeats=cfg.heartbeats,
            verify_policy=cfg.verify_policy,
            batch_size=cfg.batch_size,
            prompt=cfg.prompt,
            max_turns=cfg.max_turns,
            tools=tuple(cfg.tools),
            max_episode_tokens=cfg.max_episode_tokens,
            progress=False,
        )
        if cfg.progress:  # an evaluation takes minutes on CPU: say what runs
            say(
                f"evaluating ({tag}): {len(self.eval_problems)} {cfg.eval_split} problems x {cfg.eval_n} "
                + (f"episodes of <= {cfg.max_turns} turns" if cfg.episodes else "samples")
            )
        self.unwrapped.eval()
        try:
            df = evaluate(
                ecfg, policy=self.policy, verifier=self._get_verifier(), examples=self.examples
            ).summary
        finally:
            self.unwrapped.train()
        result: dict[str, float] = {f"pass@{int(r.k)}": float(r["pass@k"]) for _, r in df.iterrows()}
        first = df.iloc[0]
        result.update(
            {
                "avg@n": float(first["avg@n"]),
                "entropy_per_token": float(first["entropy_per_token"]),
                "entropy_per_sequence": float(first["entropy_per_sequence"]),
            }
        )
        self.log.eval(tag, self.step, result, split=cfg.eval_split, n=cfg.eval_n)
        return result

    # ----------------------------------------------------------------------------- checkpoints

    def save_checkpoint(self, name: str | None = None) -> Path:
        """Write ``checkpoints/<name>`` (default ``step-<step>``) atomically: see ``checkpoint.py``."""
        return checkpoint.save(
            self.out / "checkpoints",
            name or f"step-{self.step:06d}",
            acc=self.acc,
            model=self.model,
            optimizer=self.optimizer,
            tokenizer=self.tokenizer,
            cfg=self.cfg,
            step=self.step,
            stream=self.stream.state(),
            ema=self.ema,
        )

    def latest_checkpoint(self) -> Path | None:
        return checkpoint.latest(self.out / "checkpoints")

    def load_checkpoint(self, path: str | Path) -> None:
        st = checkpoint.load(path, acc=self.acc, model=self.model, optimizer=self.optimizer, ema=self.ema)
        self.stream.load(st["stream"])
        self.step = st["step"]
        if self.cfg.sampler == "vllm":
            self.sampler.sync_weights()


def train(cfg: TrainConfig, **kw: Any) -> list[StepResult]:
    """Run ``cfg`` end to end (see :class:`Trainer`)."""
    return Trainer(cfg, **kw).run()
