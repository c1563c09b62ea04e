"""The trainer's configuration: one dataclass, every option documented where it is declared.

Load it from YAML (``TrainConfig.from_yaml``), override single options (CLI flags do this), and
let ``__post_init__`` reject impossible combinations with a message that says how to fix them.
The ``help`` text of each field is what ``leanfd train --help`` prints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leanfd.options import accepts_old_names, renamed
from leanfd.options import opt as _opt

METHODS = ("fd", "grpo", "fd-grpo")
TEACHERS = ("ema", "frozen", "live")
CONDITIONS = ("binary", "errors", "reference", "critique", "critique+reference")
SAMPLERS = ("transformers", "vllm")
SCHEDULERS = ("constant", "linear", "cosine")


#: Old option names (flags, YAML keys, keywords) -> today's, accepted for one release with a warning.
#: The verifier and sampler options are named as in ``leanfd eval`` and the other commands.
ALIASES = {
    "lean_backend": "backend",
    "verify_timeout_s": "timeout_s",
    "verify_heartbeats": "heartbeats",
    "verify_workers": "workers",
    "rollout_backend": "sampler",
    "sampler_batch_size": "batch_size",
    "prompt_style": "prompt",
}


@accepts_old_names(ALIASES)
@dataclass
class TrainConfig:
    """Everything one training run needs. See each field's ``help``."""

    # ---------------------------------------------------------------- run
    method: str = _opt(
        "fd",
        "fd (Feedback Distillation), grpo, or fd-grpo (FD for --fd-steps, then GRPO from FD's last "
        "checkpoint, as one run).",
    )
    out: str = _opt(
        "runs/train", "Output directory: metrics.csv, tensorboard/, checkpoints/, eval/, config.yaml."
    )
    steps: int = _opt(20, "Optimizer steps in total (for fd-grpo: FD steps + GRPO steps).")
    fd_steps: int | None = _opt(None, "fd-grpo only: how many of --steps are FD (default: half).")
    seed: int = _opt(0, "Seed for data order, sampling and initialisation; a run is reproducible from it.")
    resume: str | None = _opt(
        None, "Resume from a checkpoint directory, or 'auto' for the latest one under --out/checkpoints."
    )

    # ---------------------------------------------------------------- data
    suite: str = _opt("core", "Problem suite: a bundled name (core, minif2f) or a JSONL path (leanfd.data).")
    train_split: str = _opt("valid", "Split of --suite to train on (the core suite has valid and test).")
    eval_split: str = _opt("test", "Held-out split of --suite for the periodic evaluation.")
    train_limit: int | None = _opt(None, "Use only the first N training problems (smoke tests).")
    few_shot: int = _opt(
        0,
        "Solved training problems shown before every question, in training and evaluation prompts "
        "alike (a seeded pick from --train-split with reference proofs; they leave the training stream).",
    )
    few_shot_seed: int | None = _opt(
        None,
        "Seed of the few-shot pick (default: --seed). Fix it to show the same examples in runs of "
        "different seeds, so the seed varies only the training and sampling randomness.",
    )
    prompt: str = _opt("chat", "Prompt style (leanfd.models.prompts): chat template or plain text.")

    # ---------------------------------------------------------------- model
    model: str = _opt(
        "smollm2-135m", "Policy: alias, local transformers dir, .gguf file or hub id (leanfd.models)."
    )
    dtype: str | None = _opt(
        None, "Torch dtype for the policy weights (e.g. bfloat16 on GPU); default: checkpoint's."
    )
    lora: bool = _opt(True, "Train a LoRA adapter (peft) instead of all weights.")
    lora_r: int = _opt(16, "LoRA rank.")
    lora_alpha: int = _opt(32, "LoRA scaling alpha.")
    lora_dropout: float = _opt(
        0.0, "LoRA dropout (0 keeps the forward deterministic, needed for exact resume)."
    )
    lora_target_modules: str = _opt(
        "all-linear", "Modules LoRA wraps (peft target_modules; comma list or all-linear)."
    )

    # ---------------------------------------------------------------- rollouts
    problems_per_step: int = _opt(4, "P: problems per optimizer step (per process).")
    group_size: int = _opt(4, "G: attempts sampled per problem; a step sees P*G attempts.")
    max_new_tokens: int = _opt(128, "Generation budget per attempt (tokens).")
    temperature: float = _opt(1.0, "Sampling temperature; losses and entropies use the same temperature.")
    top_p: float = _opt(1.0, "Nucleus sampling for rollouts (1 = off, keeps sampling on-policy).")
    sampler: str = _opt(
        "transformers",
        "transformers (CPU or GPU) or vllm (GPU; weights synced into vLLM after every update).",
    )
    batch_size: int = _opt(16, "Sequences per generate call (transformers sampler).")
    vllm_gpu_memory_utilization: float = _opt(
        0.3, "vllm sampler: fraction of GPU memory vLLM may take (colocated)."
    )

    # ---------------------------------------------------------------- episodes
    max_turns: int = _opt(
        1,
        "Turns per episode. Above 1, or with --tools, each attempt is an episode (leanfd.env.LeanEnv): "
        "the policy checks proofs, reads Lean's errors and calls tools over up to this many turns; its "
        "reward is 1 if any check proved the theorem. Losses count the policy's tokens only. 1 without "
        "--tools is the single-attempt path.",
    )
    tools: list[str] = _opt(
        [],
        "Tools offered in episodes besides check, comma-separated among check, goals, search, read. "
        "Empty: the policy only writes ```lean blocks, which are checked.",
    )
    max_episode_tokens: int = _opt(
        4096,
        "Token budget of a whole episode (prompt, turns and replies); --max-new-tokens caps each turn.",
    )
    turn_cost: float = _opt(
        0.0,
        "Episodes, GRPO: subtracted from the reward per policy turn (reward = proved - cost x turns). 0 "
        "(default): only the result counts; a small cost (e.g. 0.05) prefers proving in fewer turns.",
    )

    # ---------------------------------------------------------------- verifier
    backend: str = _opt(
        "auto",
        "Lean backend: auto, embedded (core Lean, zero setup), native (Mathlib), http (leanfd serve "
        "replicas at LEANFD_VERIFY_URLS) or ray (actors on a Ray cluster, extra ray).",
    )
    timeout_s: float = _opt(30.0, "Wall-clock limit per attempt (seconds).")
    heartbeats: int = _opt(200_000, "Lean maxHeartbeats per attempt.")
    verify_policy: str = _opt(
        "strict",
        "What 'proved' (reward 1) means: a verify policy preset, strict or published (see the README's "
        "'What proved means').",
        flags=("--policy",),
    )
    workers: int | None = _opt(None, "Warm Lean sessions (default: one per CPU core).")

    # ---------------------------------------------------------------- optimisation
    lr: float = _opt(1e-4, "AdamW learning rate (1e-4 is usual for LoRA; use ~1e-6 for full fine-tuning).")
    weight_decay: float = _opt(0.0, "AdamW weight decay.")
    adam_beta1: float = _opt(0.9, "AdamW beta1.")
    adam_beta2: float = _opt(0.99, "AdamW beta2 (0.99 as in DeepSeekMath GRPO).")
    max_grad_norm: float = _opt(1.0, "Gradient clipping by global norm (0 = off).")
    lr_scheduler: str = _opt("constant", "constant, linear or cosine decay after warmup.")
    warmup_steps: int = _opt(0, "Linear warmup steps.")
    micro_batch_size: int = _opt(
        8,
        "Sequences per forward/backward; the step's P*G sequences are split into micro-batches whose "
        "gradients are accumulated (gradient accumulation), weighted so the sum equals the full-batch gradient. "
        "Memory grows with it times the prompt length squared on CPU (SDPA keeps attention weights for the "
        "backward pass): with few-shot prompts (~800 tokens) use 2.",
    )
    micro_batch_tokens: int = _opt(
        4096,
        "Also cap a micro-batch at this many padded tokens (rows x (longest prompt + longest "
        "completion)); 0 = rows only. Single attempts rarely reach it; episodes (prompt, turns and "
        "replies) do, and this keeps their update's memory bounded. The gradient is the same.",
    )
    gradient_checkpointing: bool = _opt(
        False, "Recompute activations in backward (less memory, ~30% slower)."
    )

    # ---------------------------------------------------------------- GRPO
    adv_scale: str = _opt(
        "group",
        "GRPO advantage scaling: group (std of the group, Shao et al. 2024), batch (std of the batch), "
        "none (Dr. GRPO, Liu et al. 2025).",
    )
    eps_low: float = _opt(0.2, "Lower clip ε of the ratio (PPO/GRPO default 0.2).")
    eps_high: float = _opt(0.2, "Upper clip ε of the ratio (DAPO's clip-higher uses 0.28).")
    beta: float = _opt(
        0.0, "Weight of the k3 KL to the reference policy (0: no reference, as in DAPO/Dr. GRPO)."
    )
    grpo_aggregation: str = _opt(
        "seq-mean-token-mean",
        "GRPO loss aggregation: seq-mean-token-mean (GRPO), token-mean (DAPO), seq-sum-norm (Dr. GRPO).",
    )
    updates_per_batch: int = _opt(
        1,
        "Optimizer passes over each rollout batch (μ in GRPO). 1 = strictly on-policy (ratio ≡ 1, clip "
        "inactive); >1 reuses samples with the clipped ratio (GRPO) or the truncated IS weight (FD).",
    )

    # ---------------------------------------------------------------- FD
    feedback: str = _opt(
        "critique",
        "Feedback condition the teacher sees (leanfd.critic): binary, errors, reference, critique "
        "(step-aligned, the best in Feedback Alignment, arXiv 2606.11173), critique+reference.",
    )
    teacher: str = _opt(
        "ema",
        "Teacher weights: ema (EMA of the student, as in FD arXiv 2605.30861 and SDPO arXiv 2601.20802), frozen (initial model: LoRA adapter "
        "disabled, or a frozen copy for full fine-tuning, as in arXiv 2606.11173), live (current weights).",
    )
    ema_rate: float = _opt(
        0.05,
        "EMA teacher update rate per step: θ_T ← (1 − rate) θ_T + rate θ_S (SDPO, arXiv 2601.20802: 0.05).",
    )
    teacher_prefix_cache: bool = _opt(
        True,
        "Run the token prefix the micro-batch's teacher prompts share (system message, few-shot examples, "
        "question) once and reuse its KV cache in every row; the logits equal the plain forward's.",
    )
    student_prefix_cache: bool = _opt(
        True,
        "The same for the policy's own forward in the update (GRPO and FD, with gradient): the shared "
        "prompt prefix runs once per micro-batch and its gradient is the sum over the rows, as in the "
        "plain forward. Off with gradient checkpointing or several processes (DDP).",
    )
    divergence: str = _opt(
        "reverse_kl", "FD divergence: reverse_kl KL(p_S‖p_T), forward_kl KL(p_T‖p_S), or jsd."
    )
    jsd_alpha: float = _opt(0.5, "JSD mixture weight α (α=0 forward KL, α=1 reverse KL).")
    fd_estimator: str = _opt(
        "full",
        "FD support: full (exact, whole vocabulary), topk (teacher's top-k plus a tail bucket, as SDPO arXiv 2601.20802), "
        "sampled (sampled-token policy-gradient estimator, reverse KL only).",
    )
    fd_topk: int = _opt(100, "k for --fd-estimator topk (SDPO, arXiv 2601.20802: 100).")
    is_cap: float = _opt(
        2.0, "FD truncated importance weight cap min(exp(logπ_θ − logπ_old), cap), used when off-policy."
    )
    fd_aggregation: str = _opt(
        "token-mean", "FD loss aggregation (token-mean, seq-mean-token-mean, seq-sum-norm)."
    )
    fd_on_success: bool = _opt(
        False,
        "Also distil on proved attempts (teacher told the attempt is correct). Default off: a proved "
        "attempt's teacher has nothing to add (SDPO, arXiv 2601.20802, skips them).",
    )
    sibling_demo: bool = _opt(
        True,
        "Give a failed attempt's teacher a proved sibling from its group as a demonstration (SDPO, arXiv 2601.20802).",
    )

    # ---------------------------------------------------------------- eval, logging, checkpoints
    eval_every: int = _opt(
        0, "Evaluate on --eval-split every N steps (0: only before the first and after the last step)."
    )
    eval_n: int = _opt(8, "Samples per held-out problem for pass@k (n).")
    eval_ks: list[int] | None = _opt(
        None, "k values of pass@k, comma-separated (each ≤ --eval-n); default: 1,2,4,8 up to --eval-n."
    )
    eval_limit: int | None = _opt(None, "Evaluate on the first N held-out problems only.")
    eval_temperature: float = _opt(1.0, "Sampling temperature for evaluation.")
    evaluate: bool = _opt(
        True, "Evaluate on the held-out split before and after training (and every --eval-every steps)."
    )
    eval_before: bool = _opt(
        True,
        "Evaluate the initial model before the first step. Off when the base model is evaluated once "
        "apart for several runs (leanfd eval with the same --seed, --few-shot, --few-shot-seed and sampling "
        "settings gives the same prompts and examples).",
    )
    save_every: int = _opt(10, "Write a checkpoint every N steps (and always after the last step).")
    keep_checkpoints: int = _opt(2, "Keep only the newest N step checkpoints (the final one is always kept).")
    log_every: int = _opt(1, "Print a log line every N steps (metrics are written every step).")
    log_rollouts: bool = _opt(
        True,
        "Write every training attempt (completion, extracted proof, Lean status and first error, "
        "reward, the teacher's feedback) to --out/rollouts.jsonl, one row per attempt, to see what "
        "the model actually writes.",
    )
    tensorboard: bool = _opt(
        True, "Also write metrics to TensorBoard (torch.utils.tensorboard) under --out/tensorboard."
    )
    progress: bool = _opt(True, "Show tqdm progress bars.")

    @property
    def shot_seed(self) -> int:
        """The seed the few-shot examples are drawn with (as ``EvalConfig.shot_seed``)."""
        return self.seed if self.few_shot_seed is None else self.few_shot_seed

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"invalid training config: {msg}")

        if self.few_shot < 0:
            bad(f"few_shot={self.few_shot}: give 0 (no examples) or a positive count")
        from leanfd.lean.guard import POLICIES

        if self.verify_policy not in POLICIES:
            bad(f"verify_policy={self.verify_policy!r}: use one of {', '.join(POLICIES)}")
        if self.prompt not in ("chat", "plain"):
            bad(f"prompt={self.prompt!r}: expected chat or plain")
        if self.eval_ks is None:
            self.eval_ks = [k for k in (1, 2, 4, 8) if k <= max(1, self.eval_n)]
        if isinstance(self.eval_ks, str):  # "1,2,4,8" from the command line
            try:
                self.eval_ks = [int(k) for k in self.eval_ks.split(",") if k.strip()]
            except ValueError:
                bad(f"eval_ks={self.eval_ks!r}: give comma-separated integers, e.g. 1,2,4,8")

        if isinstance(self.tools, str):  # "check,search" from the command line
            self.tools = [t.strip() for t in self.tools.split(",") if t.strip()]
        self.tools = list(self.tools)
        from leanfd.env.episode import TOOL_SCHEMAS

        if any(t not in TOOL_SCHEMAS for t in self.tools) or len(set(self.tools)) != len(self.tools):
            bad(f"tools={','.join(self.tools)!r}: give distinct tools among {', '.join(TOOL_SCHEMAS)}")
        if self.max_turns < 1 or self.max_episode_tokens < 1:
            bad(
                f"max_turns={self.max_turns}, max_episode_tokens={self.max_episode_tokens}: both must be >= 1"
            )
        if self.micro_batch_tokens < 0:
            bad(f"micro_batch_tokens={self.micro_batch_tokens} must be >= 0 (0 = no token cap)")
        if self.turn_cost < 0:
            bad(f"turn_cost={self.turn_cost} must be >= 0 (it is subtracted per turn)")
        if self.episodes and self.few_shot:
            bad(
                f"few_shot={self.few_shot} with episodes: the episode prompt shows no examples; use --few-shot 0"
            )

        def one_of(name: str, allowed: tuple[str, ...]) -> None:
            if getattr(self, name) not in allowed:
                bad(f"{name}={getattr(self, name)!r}; choose one of {', '.join(allowed)}")

        one_of("method", METHODS)
        one_of("teacher", TEACHERS)
        one_of("feedback", CONDITIONS)
        one_of("sampler", SAMPLERS)
        one_of("lr_scheduler", SCHEDULERS)
        from leanfd.train.losses import ADVANTAGE_ESTIMATORS, AGGREGATIONS, DIVERGENCES, FD_ESTIMATORS

        one_of("adv_scale", tuple(ADVANTAGE_ESTIMATORS))
        one_of("divergence", tuple(DIVERGENCES))
        one_of("fd_estimator", tuple(FD_ESTIMATORS))
        one_of("grpo_aggregation", tuple(AGGREGATIONS))
        one_of("fd_aggregation", tuple(AGGREGATIONS))
        for name in (
            "steps",
            "problems_per_step",
            "group_size",
            "max_new_tokens",
            "micro_batch_size",
            "updates_per_batch",
            "eval_n",
            "save_every",
            "log_every",
            "batch_size",
            "fd_topk",
        ):
            if getattr(self, name) < 1:
                bad(f"{name}={getattr(self, name)} must be >= 1")
        if self.method == "fd-grpo":
            if self.fd_steps is None:
                self.fd_steps = self.steps // 2
            if not 1 <= self.fd_steps < self.steps:
                bad(
                    f"fd_steps={self.fd_steps} must be between 1 and steps-1={self.steps - 1} so both phases run"
                )
        elif self.fd_steps is not None:
            bad(f"fd_steps is only for method fd-grpo (method is {self.method!r}); drop --fd-steps")
        if self.method in ("grpo", "fd-grpo") and self.group_size < 2:
            bad("GRPO compares attempts within a group: set group_size >= 2")
        if self.fd_estimator == "sampled" and self.divergence != "reverse_kl":
            bad(
                f"fd_estimator='sampled' only estimates the reverse KL; got divergence={self.divergence!r}. "
                "Use --divergence reverse_kl, or --fd-estimator full/topk for forward KL or JSD"
            )
        if not 0.0 <= self.jsd_alpha <= 1.0:
            bad(f"jsd_alpha={self.jsd_alpha} must be in [0, 1] (0 forward KL, 1 reverse KL)")
        if self.teacher == "ema" and not 0.0 < self.ema_rate <= 1.0:
            bad(f"ema_rate={self.ema_rate} must be in (0, 1]; use --teacher frozen for a fixed teacher")
        if self.temperature <= 0:
            bad(
                f"temperature={self.temperature} must be > 0: training needs a sampling distribution (no greedy)"
            )
        if not 0.0 <= self.eps_low < 1.0 or self.eps_high < 0.0:
            bad(
                f"clip range eps_low={self.eps_low}, eps_high={self.eps_high}: need 0 <= eps_low < 1 and eps_high >= 0"
            )
        if self.beta < 0:
            bad(f"beta={self.beta} must be >= 0")
        if self.beta > 0 and not self.lora:
            bad(
                "beta > 0 needs a reference model; with --no-lora that is a second full copy: use --lora "
                "(the reference is the adapter-disabled base) or --beta 0"
            )
        if self.evaluate:
            if any(k < 1 or k > self.eval_n for k in self.eval_ks):
                bad(
                    f"eval_ks={self.eval_ks} must each be in [1, eval_n={self.eval_n}]; raise --eval-n or drop k"
                )
        if self.is_cap <= 0:
            bad(f"is_cap={self.is_cap} must be > 0")

    @property
    def episodes(self) -> bool:
        """Whether attempts are multi-turn episodes (``max_turns`` above 1, or ``tools``)."""
        return self.max_turns > 1 or bool(self.tools)

    @property
    def max_policy_tokens(self) -> int:
        """The most tokens the policy can write in one attempt (the constant of seq-sum-norm)."""
        return self.max_new_tokens * (self.max_turns if self.episodes else 1)

    # ------------------------------------------------------------------------------------------ I/O

    @classmethod
    def from_yaml(cls, path: str | Path | None = None, **overrides: Any) -> TrainConfig:
        """Options from a YAML mapping (keys are field names, ``-`` or ``_``), then ``overrides``
        (values of None are ignored, so unset CLI flags never mask the file)."""
        values: dict[str, Any] = {}
        if path is not None:
            import yaml

            p = Path(path)
            if not p.is_file():
                raise FileNotFoundError(
                    f"config file {p} does not exist; pass an existing YAML file to --config"
                )
            data = yaml.safe_load(p.read_text()) or {}
            if not isinstance(data, dict):
                raise ValueError(
                    f"config file {p} must hold a mapping of option: value, got {type(data).__name__}"
                )
            data = {str(k).replace("-", "_"): v for k, v in data.items()}
            values.update(renamed(data, ALIASES, where=str(p)))
        given = {k.replace("-", "_"): v for k, v in overrides.items() if v is not None}
        values.update(renamed(given, ALIASES, where=cls.__name__))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            import difflib

            hints = [
                f"{u} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(u, known, 1)) else u
                for u in unknown
            ]
            raise ValueError(f"unknown training option(s): {', '.join(hints)}; see `leanfd train --help`")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def cli_signature():
    """The typer options of ``leanfd train``: ``--config``, then one per field (old names hidden)."""
    import inspect
    import typing

    import typer

    from leanfd import options

    config = inspect.Parameter(
        "config",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=typing.Annotated[
            str | None,
            typer.Option(help="YAML file of options (field names as keys); flags given here override it."),
        ],
    )
    return options.cli_signature(TrainConfig, leading=[config])
