"""The options of one evaluation run: one dataclass, every option documented where it is declared.

The ``help`` text of each field is what ``leanfd eval --help`` prints (the command is generated
from the fields). Kept apart from the evaluate loop so the CLI builds without importing pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leanfd.options import accepts_old_names
from leanfd.options import opt as _opt

#: Old option names -> today's, accepted for one release with a warning. None yet: the eval
#: options already carry the names every command uses (``--backend``, ``--sampler``, ...).
ALIASES: dict[str, str] = {}

#: Config fields that change what is sampled: a resumed run must match them.
IDENTITY = (
    "suite",
    "split",
    "model",
    "adapter",
    "n",
    "temperature",
    "top_p",
    "max_new_tokens",
    "seed",
    "prompt",
    "few_shot",
    "prefill",
    "verify_policy",
)
#: Identity fields of episode runs, with the value a run written before them had.
EPISODE_IDENTITY = {"max_turns": 1, "tools": [], "max_episode_tokens": 4096}


@accepts_old_names(ALIASES)
@dataclass
class EvalConfig:
    """Options of one evaluation run (the ``leanfd eval`` flags). See each field's ``help``."""

    out: Path = _opt(help="Run directory (resumed if it exists).", flags=("--out", "-o"))
    suite: str = _opt("core", "Bundled suite name (core, minif2f) or a JSONL path.")
    split: str = _opt("test", "Split of --suite to evaluate.")
    model: str = _opt("smollm2-135m", "Alias (smollm2-135m), checkpoint/adapter dir, .gguf file or hub id.")
    adapter: str | None = _opt(None, "LoRA adapter directory put over --model (merged for sampling).")
    n: int = _opt(16, "Samples per problem.", flags=("-n",))
    ks: tuple[int, ...] = _opt(
        (1, 2, 4, 8, 16),
        "Comma-separated k values for pass@k, each <= n (Chen et al. 2021: estimate pass@k from n >= k).",
        flags=("-k", "--ks"),
    )
    limit: int | None = _opt(None, "Evaluate only the first N problems of the split.")
    temperature: float = _opt(1.0, "Sampling temperature (0: greedy decoding, needs -n 1).")
    top_p: float = _opt(0.95, "Nucleus sampling mass.")
    max_new_tokens: int = _opt(256, "Token budget per sample.")
    seed: int = _opt(0, "Sampling seed.")
    backend: str = _opt(
        "auto",
        "Lean backend: auto (native when set up, else embedded), embedded, native, http (leanfd serve "
        "replicas at LEANFD_VERIFY_URLS) or ray (actors on a Ray cluster, extra ray).",
    )
    workers: int | None = _opt(
        None, "Lean sessions in parallel (default: one per core; one for evals of <= 64 attempts)."
    )
    batch_size: int = _opt(16, "Sequences per generate call (problems per batch: max(1, batch_size // n)).")
    sampler: str = _opt("transformers", "Generation engine: transformers (CPU/GPU) or vllm (GPU, extra gpu).")
    prompt: str = _opt("chat", "Prompt style: chat (the tokenizer's chat template) or plain.")
    few_shot: int = _opt(
        0, "Solved examples shown first, from the suite's other splits (never the evaluated one)."
    )
    few_shot_seed: int | None = _opt(
        None,
        "Seed of the few-shot pick (default: --seed). Fix it to show the same examples in runs of "
        "different seeds, so the seed varies only the sampling.",
    )
    prefill: bool = _opt(
        True,
        "Start the answer with the ```lean4 fence and the statement, so the model writes only the proof "
        "(sampling then also stops at the closing fence).",
    )
    verify_policy: str = _opt(
        "strict",
        "What 'proved' means: a verify policy preset (strict, published), or several comma-separated "
        "(strict,published): the first judges the samples, pass@k is reported under each, and a "
        "verdict is re-checked under another preset only where that preset can change it.",
        flags=("--policy",),
    )
    max_turns: int = _opt(
        1,
        "Turns per episode. Above 1, or with --tools, each sample is an episode (leanfd.env.LeanEnv): "
        "the model checks proofs, reads Lean's errors and calls tools over up to this many turns; it "
        "solves the problem if any check proved it. 1 without --tools is the single-turn path.",
    )
    tools: tuple[str, ...] = _opt(
        (),
        "Tools offered in episodes besides check, comma-separated among check, goals, search, read "
        "(e.g. check,search,goals). Empty: the model only writes ```lean blocks, which are checked.",
    )
    max_episode_tokens: int = _opt(
        4096, "Token budget of a whole episode (prompt, turns and replies); --max-new-tokens caps each turn."
    )
    timeout_s: float = _opt(30.0, "Wall-clock limit per attempt, seconds.")
    heartbeats: int = _opt(200_000, "Lean maxHeartbeats per attempt (Lean's deterministic limit).")
    progress: bool = _opt(True, "Show tqdm progress bars.")

    def __post_init__(self) -> None:
        from leanfd.models.generate import SAMPLERS

        self.out = Path(self.out)
        if isinstance(self.ks, str):  # "1,2,4" from the command line
            try:
                self.ks = tuple(int(k) for k in self.ks.split(",") if k.strip())
            except ValueError:
                raise ValueError(f"-k {self.ks!r}: give comma-separated integers, e.g. -k 1,2,4") from None
        self.ks = tuple(int(k) for k in self.ks)
        if self.n < 1:
            raise ValueError(f"-n {self.n}: need at least one sample per problem")
        if not self.ks:
            raise ValueError("-k: give at least one k, e.g. -k 1,2,4")
        bad = [k for k in self.ks if k < 1 or k > self.n]
        if bad:
            raise ValueError(
                f"-k {','.join(map(str, bad))}: every k must be between 1 and n={self.n} "
                f"(the unbiased estimator needs n >= k samples); raise -n or drop those k"
            )
        if self.temperature < 0:
            raise ValueError(f"--temperature {self.temperature}: must be >= 0")
        if self.temperature == 0 and self.n > 1:
            raise ValueError(
                f"--temperature 0 is greedy decoding: all {self.n} samples would be identical; use -n 1 or T > 0"
            )
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top-p {self.top_p}: must be in (0, 1]")
        if self.max_new_tokens < 1:
            raise ValueError(f"--max-new-tokens {self.max_new_tokens}: must be >= 1")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size {self.batch_size}: must be >= 1")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit {self.limit}: must be >= 1")
        if self.few_shot < 0:
            raise ValueError(f"--few-shot {self.few_shot}: must be >= 0")
        if self.prompt not in ("chat", "plain"):
            raise ValueError(f"--prompt {self.prompt!r}: use chat or plain")
        from leanfd.lean.guard import POLICIES

        bad_policies = [p for p in self.policies if p not in POLICIES] or (
            [] if self.policies and len(set(self.policies)) == len(self.policies) else [self.verify_policy]
        )
        if bad_policies:
            raise ValueError(
                f"--policy {self.verify_policy!r}: give distinct presets among {', '.join(POLICIES)}, "
                "comma-separated (e.g. strict,published)"
            )
        if self.sampler not in SAMPLERS:
            raise ValueError(f"--sampler {self.sampler!r}: use one of {', '.join(SAMPLERS)}")
        if isinstance(self.tools, str):  # "check,search" from the command line
            self.tools = tuple(t.strip() for t in self.tools.split(",") if t.strip())
        self.tools = tuple(self.tools)
        from leanfd.env.episode import TOOL_SCHEMAS

        unknown = [t for t in self.tools if t not in TOOL_SCHEMAS]
        if unknown or len(set(self.tools)) != len(self.tools):
            raise ValueError(
                f"--tools {','.join(self.tools)!r}: give distinct tools among {', '.join(TOOL_SCHEMAS)}, "
                "comma-separated (e.g. check,search,goals)"
            )
        if self.max_turns < 1:
            raise ValueError(f"--max-turns {self.max_turns}: must be >= 1")
        if self.max_episode_tokens < 1:
            raise ValueError(f"--max-episode-tokens {self.max_episode_tokens}: must be >= 1")
        if self.episodes and len(self.policies) > 1:
            raise ValueError(
                f"--policy {self.verify_policy!r} with episodes: episodes are judged under one preset; "
                "give one (e.g. --policy strict)"
            )
        if self.episodes and self.few_shot:
            raise ValueError(
                f"--few-shot {self.few_shot} with episodes: the episode prompt shows no examples; use --few-shot 0"
            )

    @property
    def episodes(self) -> bool:
        """Whether samples are multi-turn episodes (``--max-turns`` above 1, or ``--tools``)."""
        return self.max_turns > 1 or bool(self.tools)

    @property
    def shot_seed(self) -> int:
        """The seed the few-shot examples are drawn with."""
        return self.seed if self.few_shot_seed is None else self.few_shot_seed

    @property
    def policies(self) -> tuple[str, ...]:
        """The verify presets of ``verify_policy``, the judging one first."""
        return tuple(p.strip() for p in self.verify_policy.split(",") if p.strip())

    def identity(self) -> dict:
        """What a resumed run must match. Episode runs add their fields; a single-turn run's identity
        is what it was before episodes existed."""
        out = {k: getattr(self, k) for k in IDENTITY}
        if self.few_shot:  # runs written before few_shot_seed existed drew their examples with --seed
            out["few_shot_seed"] = self.shot_seed
        if self.episodes:
            out.update(
                max_turns=self.max_turns, tools=list(self.tools), max_episode_tokens=self.max_episode_tokens
            )
        return out
