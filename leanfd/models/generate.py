"""Prompt + sample: the model half of the sample → verify pipeline that eval and train share.

:func:`make_sampler` is the one place a sampler is built from a model name or a loaded policy;
:func:`generate` renders each problem's prompt and draws ``n`` completions for it in one call. The
Lean half (extract + verify) is :func:`leanfd.lean.completions.check_completions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leanfd.data.problem import Problem
from leanfd.models.prompts import Prompt, build_prompt

#: Generation engines: ``transformers`` (CPU or GPU) and ``vllm`` (GPU, extra ``gpu``).
SAMPLERS = ("transformers", "vllm")


def make_sampler(
    kind: str = "transformers",
    *,
    model: str | None = None,
    policy=None,
    adapter: str | None = None,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
    **vllm_kwargs: Any,
):
    """A sampler and its tokenizer: ``(sampler, tokenizer)``.

    ``transformers`` samples from ``policy`` (a loaded :class:`leanfd.models.policy.Policy`) or
    loads ``model`` (+ ``adapter``, merged); ``vllm`` loads ``model`` into a vLLM engine
    (``vllm_kwargs`` go to ``vllm.LLM``, e.g. ``gpu_memory_utilization``, ``dtype``).
    """
    if kind not in SAMPLERS:
        raise ValueError(f"sampler {kind!r}: use one of {', '.join(SAMPLERS)}")
    if kind == "vllm":
        from leanfd.models.policy import ALIASES, ensure_alias_converted
        from leanfd.models.sampling import VLLMSampler

        if adapter:
            raise ValueError(
                "--sampler vllm with --adapter: merge the adapter first (save_pretrained) and pass its directory"
            )
        if model is None:
            raise ValueError("the vllm sampler needs a model name or directory")
        path = str(ensure_alias_converted(model)) if model in ALIASES else model
        sampler = VLLMSampler(path, seed=seed, progress=progress, **vllm_kwargs)
        return sampler, sampler.tokenizer
    from leanfd.models.policy import load_policy
    from leanfd.models.sampling import TransformersSampler

    if policy is None:
        if model is None:
            raise ValueError("the transformers sampler needs a loaded policy or a model name")
        policy = load_policy(model, adapter=adapter, merge_adapter=True)
    return TransformersSampler(policy, batch_size=batch_size, progress=progress), policy.tokenizer


@dataclass
class Generation:
    """One problem's prompt and its sampled completions."""

    problem: Problem
    prompt: Prompt
    samples: list  # leanfd.models.sampling.Sample, one per draw

    def completions(self) -> list[str]:
        """Each sample as the answer the model gave: the prefilled part plus what it wrote."""
        return [self.prompt.response_prefix + s.text for s in self.samples]


def generate(
    problems: Sequence[Problem],
    sampler,
    tokenizer,
    *,
    n: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    style: str = "chat",
    examples: Sequence[Problem] = (),
    prefill: bool = True,
    allow_same_split: bool = False,
    stop: Sequence[str] | None = None,
) -> list[Generation]:
    """Render each problem's prompt (:func:`leanfd.models.prompts.build_prompt`) and sample ``n``
    completions per prompt in one sampler call.

    ``stop`` defaults to the closing fence when the answer is prefilled: the fence is already open,
    so the next ```` ``` ```` ends the proof and extraction ignores whatever follows.
    """
    prompts = [
        build_prompt(
            p, tokenizer, style=style, examples=examples, prefill=prefill, allow_same_split=allow_same_split
        )
        for p in problems
    ]
    if stop is None:
        stop = ("```",) if prefill else ()
    samples = sampler.sample(
        [pr.text for pr in prompts],
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        stop=tuple(stop),
    )
    return [Generation(p, pr, list(ss)) for p, pr, ss in zip(problems, prompts, samples, strict=True)]
