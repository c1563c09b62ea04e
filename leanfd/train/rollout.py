"""Rollouts shared by GRPO and FD: sample G attempts per problem, verify them in one batch, reward
them, write feedback, and lay the student and teacher token sequences out as tensors.

The teacher context is the student's prompt with a feedback block inserted after the question
("... feedback ... Correctly solve the original question.", the re-prompt of SDPO, arXiv
2601.20802), followed by the student's completion token ids *verbatim* (never re-tokenised), so
position t of the teacher's completion scores exactly the token the student sampled at t.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from leanfd.data.problem import Attempt, Problem
from leanfd.lean.types import Verdict

#: Appended after the feedback in the teacher's context (the re-prompt wording of SDPO, arXiv 2601.20802).
SOLVE_AGAIN = "Correctly solve the original question."


@dataclass
class Rollout:
    """One sampled attempt and everything the losses need about it."""

    problem: Problem
    group: int  # index of its problem in the step's batch (its GRPO group)
    prompt_ids: list[int]  # the student's prompt, as the sampler saw it
    completion_ids: list[int]  # sampled tokens (stop token included when emitted)
    logprobs: list[float]  # sampler log π_old(y_t) at the sampling temperature
    entropies: list[float]  # sampler H(p_S(·|t)) at the sampling temperature
    text: str
    proof: str | None
    verdict: Verdict
    reward: float
    feedback: str | None = None  # the teacher's feedback block; None = no teacher for this attempt
    teacher_prompt_ids: list[int] | None = None
    #: episodes (``--max-turns``): 1 where ``completion_ids`` holds a policy token, 0 where the
    #: environment's (tool results, Lean's replies); None = every token is the policy's. Every loss
    #: term counts policy tokens only; ``entropies`` then hold the policy tokens' alone.
    mask: list[int] | None = None
    episode: dict | None = None  # the episode's record (leanfd.train.episodes), for rollouts.jsonl

    @property
    def policy_tokens(self) -> int:
        """How many of ``completion_ids`` the policy produced (the tokens its losses count)."""
        return len(self.completion_ids) if self.mask is None else sum(self.mask)


@dataclass
class RolloutBatch:
    """The P*G rollouts of one step (groups contiguous) and where the time went."""

    rollouts: list[Rollout]
    group_size: int
    sample_s: float = 0.0
    verify_s: float = 0.0
    feedback_s: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def rewards(self) -> torch.Tensor:
        return torch.tensor([r.reward for r in self.rollouts], dtype=torch.float32)


# ------------------------------------------------------------------------------------- prompts


def student_prompt(problem: Problem, tokenizer, style: str = "chat", examples: Sequence[Problem] = ()):
    """The student's prompt (a ``leanfd.models.prompts.Prompt``: ``text`` and ``response_prefix``).

    ``examples`` are few-shot solved problems shown first; in training they are training problems
    (the trainer keeps them out of the training stream), hence ``allow_same_split``.
    """
    from leanfd.models.prompts import build_prompt

    return build_prompt(problem, tokenizer, style=style, examples=examples, allow_same_split=True)


def teacher_context(feedback: str) -> str:
    """The block the teacher sees after the question: the feedback, then the instruction to solve.
    Empty feedback adds nothing, so the teacher's context is the student's (teacher = student).

    >>> teacher_context("")
    ''
    """
    if not feedback.strip():
        return ""
    return f"{feedback.strip()}\n\n{SOLVE_AGAIN}"


def teacher_prompt_text(
    problem: Problem,
    tokenizer,
    feedback: str,
    style: str = "chat",
    examples: Sequence[Problem] = (),
) -> str:
    """The student's prompt with the feedback block appended to the question (after its code
    block): same chat template, system prompt, examples and prefilled answer as the student's."""
    from leanfd.models.prompts import build_prompt

    return build_prompt(
        problem,
        tokenizer,
        style=style,
        examples=examples,
        allow_same_split=True,
        context=teacher_context(feedback),
    ).text


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of a rendered prompt, exactly as the samplers tokenise it (no added specials)."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# ------------------------------------------------------------------------------------- rollouts


FeedbackFn = Callable[[Problem, str, Verdict], str]


def critic_feedback(condition: str) -> FeedbackFn:
    """Feedback from ``leanfd.critic.conditions.render_feedback`` with the given condition."""
    from leanfd.critic.conditions import render_feedback

    def fn(problem: Problem, proof: str, verdict: Verdict) -> str:
        return render_feedback(condition, problem, proof, verdict)

    return fn


def sibling_demo(proof: str) -> str:
    """A proved sibling's proof shown to the teacher as a demonstration (as SDPO does, arXiv 2601.20802)."""
    return f"A correct proof found by another attempt:\n```lean4\n{proof.strip()}\n```"


def collect_rollouts(
    problems: Sequence[Problem],
    *,
    sampler,
    tokenizer,
    verify: Callable[[Sequence[Attempt]], list[Verdict]],
    group_size: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    feedback: FeedbackFn | None = None,
    feedback_on_success: bool = False,
    sibling_demos: bool = False,
    prompt_style: str = "chat",
    examples: Sequence[Problem] = (),
    stop: Sequence[str] = ("```",),
) -> RolloutBatch:
    """Sample ``group_size`` attempts per problem, verify all of them in one batch, reward them
    (1 proved, 0 otherwise) and, if ``feedback`` is given, build each attempt's teacher prompt.

    Failed attempts get a teacher (their feedback, plus a proved sibling's proof when
    ``sibling_demos``); proved attempts get one only with ``feedback_on_success``. Attempts without
    a teacher have ``feedback=None`` and are masked out of the FD loss.

    ``stop``: sampling ends after the token completing one of these strings (kept in the
    completion). The default closes the prefilled ```` ```lean4 ```` block, as ``leanfd eval`` does:
    extraction ignores everything after it, so tokens spent there would be trained on for nothing.
    """
    from leanfd.lean.completions import check_completions
    from leanfd.models.generate import generate

    t0 = time.perf_counter()
    gens = generate(
        problems,
        sampler,
        tokenizer,
        n=group_size,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        style=prompt_style,
        examples=examples,
        allow_same_split=True,  # the examples are training problems, kept out of the stream
        stop=stop,
    )
    sample_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    checked = iter(check_completions([(g.problem, c) for g in gens for c in g.completions()], verify))
    verify_s = time.perf_counter() - t0

    rollouts = []
    for group, g in enumerate(gens):
        ids = encode(tokenizer, g.prompt.text)
        for s in g.samples:
            c = next(checked)
            rollouts.append(
                Rollout(
                    problem=g.problem,
                    group=group,
                    prompt_ids=ids,
                    completion_ids=list(s.token_ids),
                    logprobs=list(s.logprobs),
                    entropies=list(s.entropies),
                    text=s.text,
                    proof=c.proof,
                    verdict=c.verdict,
                    reward=1.0 if c.verdict.ok else 0.0,
                )
            )

    t0 = time.perf_counter()
    if feedback is not None:
        proved_in_group: dict[int, str] = {}
        for r in rollouts:
            if r.verdict.ok and r.group not in proved_in_group:
                proved_in_group[r.group] = r.proof or ""
        for r in rollouts:
            if r.verdict.ok and not feedback_on_success:
                continue
            block = feedback(r.problem, r.proof or "", r.verdict)
            if sibling_demos and not r.verdict.ok and r.group in proved_in_group:
                block = f"{block.strip()}\n\n{sibling_demo(proved_in_group[r.group])}"
            r.feedback = block
            r.teacher_prompt_ids = encode(
                tokenizer, teacher_prompt_text(r.problem, tokenizer, block, prompt_style, examples)
            )
    feedback_s = time.perf_counter() - t0

    batch = RolloutBatch(rollouts, group_size, sample_s, verify_s, feedback_s)
    batch.stats = rollout_stats(rollouts)
    return batch


def rollout_stats(rollouts: Sequence[Rollout]) -> dict[str, float]:
    """A step's rollout metrics; token counts and entropy are over the policy's tokens only."""
    n = max(1, len(rollouts))
    n_tok = sum(r.policy_tokens for r in rollouts)
    return {
        "reward_mean": sum(r.reward for r in rollouts) / n,
        "no_proof_frac": sum(r.proof is None for r in rollouts) / n,
        "completion_tokens": float(n_tok),
        "completion_len_mean": n_tok / n,
        "sample_entropy": sum(sum(r.entropies) for r in rollouts) / max(1, n_tok),
        "teacher_frac": sum(r.feedback is not None for r in rollouts) / n,
    }


# ------------------------------------------------------------------------------------- tensors


@dataclass
class Packed:
    """Sequences laid out as [left-padded prompt | right-padded completion] (shapes in comments).

    The completion always starts at column ``prompt_len``, so the logits that score completion
    token t sit at column ``prompt_len - 1 + t`` for every row: one slice, no gather.
    """

    input_ids: torch.Tensor  # (B, Lp + T)
    attention_mask: torch.Tensor  # (B, Lp + T)
    position_ids: torch.Tensor  # (B, Lp + T), counted from each row's first real token
    completion_ids: torch.Tensor  # (B, T)
    completion_mask: torch.Tensor  # (B, T) 1 on real completion tokens (policy tokens, in episodes)
    prompt_len: int  # Lp

    def to(self, device) -> Packed:
        return Packed(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.position_ids.to(device),
            self.completion_ids.to(device),
            self.completion_mask.to(device),
            self.prompt_len,
        )


def pack(
    prompts: Sequence[Sequence[int]],
    completions: Sequence[Sequence[int]],
    pad_id: int,
    masks: Sequence[Sequence[int] | None] | None = None,
) -> Packed:
    """Lay out prompt/completion pairs; see :class:`Packed`. ``masks`` (one per completion, None =
    all ones) zero the completion tokens no loss may count (an episode's environment tokens): they
    stay in the input as context, and ``completion_mask`` is 0 on them."""
    if len(prompts) != len(completions) or not prompts:
        raise ValueError(
            f"pack needs as many prompts as completions (>0); got {len(prompts)} and {len(completions)}"
        )
    if masks is not None and len(masks) != len(completions):
        raise ValueError(f"pack: {len(masks)} masks for {len(completions)} completions")
    lp = max(len(p) for p in prompts)
    t = max(1, max(len(c) for c in completions))
    b = len(prompts)
    ids = torch.full((b, lp + t), pad_id, dtype=torch.long)
    att = torch.zeros((b, lp + t), dtype=torch.long)
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        ids[i, lp - len(p) : lp] = torch.tensor(list(p), dtype=torch.long)
        ids[i, lp : lp + len(c)] = torch.tensor(list(c), dtype=torch.long)
        att[i, lp - len(p) : lp + len(c)] = 1
    pos = (att.cumsum(-1) - 1).clamp(min=0)
    cmask = att[:, lp:].clone()
    for i, m in enumerate(masks or ()):
        if m is not None:
            if len(m) != len(completions[i]):
                raise ValueError(f"pack: mask {i} has {len(m)} entries for {len(completions[i])} tokens")
            cmask[i, : len(m)] *= torch.tensor(list(m), dtype=torch.long)
    return Packed(ids, att, pos, ids[:, lp:].clone(), cmask, lp)


def completion_logits(model, packed: Packed) -> torch.Tensor:
    """Logits scoring each completion token: (B, T, V). Only the last T + 1 positions go through
    the LM head (``logits_to_keep``), which saves (Lp − 1) × V floats per row."""
    t = packed.completion_ids.shape[1]
    out = model(
        input_ids=packed.input_ids,
        attention_mask=packed.attention_mask,
        position_ids=packed.position_ids,
        logits_to_keep=t + 1,
        use_cache=False,
    )
    return out.logits[:, :-1, :].float()


def shared_prefix_len(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with, keeping at least one token of each prompt out of it (the
    logits scoring a row's first completion token come from its last prompt token)."""
    return max(0, min(len(os.path.commonprefix([list(p) for p in prompts])), min(map(len, prompts)) - 1))


def completion_logits_reusing_prefix(
    model,
    prompts: Sequence[Sequence[int]],
    completions: Sequence[Sequence[int]],
    pad_id: int,
    device,
    min_prefix: int = 64,
) -> torch.Tensor:
    """``completion_logits(model, pack(prompts, completions, pad_id))`` with the prompts' common
    token prefix run once: (B, T, V). Used without gradient (the FD teacher) and with it (the
    policy in the update): the repeated prefix cache is a differentiable copy, so the prefix's
    gradient is the sum over the rows, exactly as through B separate copies of it.

    A step's teacher prompts share the system message, the few-shot examples and usually the
    question; only the feedback block differs. The prefix's KV cache (batch 1) is copied into the
    B rows, and each row's remainder (prompt suffix + completion) runs on top of it, laid out by
    ``pack`` (suffix left-padded right after the prefix, so positions continue from it and pads are
    masked). Below ``min_prefix`` shared tokens the second call would save too little: plain forward.
    """
    k = shared_prefix_len(prompts) if len(prompts) > 1 else 0
    # Gradient checkpointing in training mode makes each layer drop the cache it is handed.
    checkpointing = model.training and getattr(model, "is_activation_checkpointing", False)
    if k < min_prefix or checkpointing:
        return completion_logits(model, pack(prompts, completions, pad_id).to(device))
    b = len(prompts)
    prefix = torch.tensor([list(prompts[0][:k])], dtype=torch.long, device=device)
    cache = model(
        input_ids=prefix,
        attention_mask=torch.ones_like(prefix),
        position_ids=torch.arange(k, device=device)[None],
        use_cache=True,
        logits_to_keep=1,
    ).past_key_values
    cache.batch_repeat_interleave(b)
    rest = pack([p[k:] for p in prompts], completions, pad_id).to(device)
    t = rest.completion_ids.shape[1]
    out = model(
        input_ids=rest.input_ids,
        # with a cache the mask covers the cached prefix too
        attention_mask=torch.cat([rest.attention_mask.new_ones((b, k)), rest.attention_mask], dim=1),
        position_ids=rest.position_ids + k,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=t + 1,
    )
    return out.logits[:, :-1, :].float()
